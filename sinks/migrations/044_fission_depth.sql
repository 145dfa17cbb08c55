-- Depth and root of the share tree from the tree itself (the first-touch inviter of each
-- invitee and its closure), not from the depth a worker knew when it wrote an edge: when
-- a grandchild's visit is handled before its parent's, that depth is too low. Replaces
-- fission_tree and fission_parent of 040_funnels.sql.

-- One row per (sharer, invitee) visit edge: the first visit and its campaign.
CREATE OR REPLACE VIEW siyu.fission_visits AS
SELECT e.project AS project, e.sharer AS sharer, e.invitee AS invitee,
       min(e.time) AS first_visit, argMin(e.campaign, e.time) AS campaign
FROM siyu.fission_edges_current AS e
WHERE e.step = {{fission_visit_step}}
GROUP BY e.project, e.sharer, e.invitee;

-- The inviter of each invitee by first touch (the visit that came first): the tree.
CREATE OR REPLACE VIEW siyu.fission_parent AS
SELECT v.project AS project, v.invitee AS invitee,
       argMin(v.sharer, v.first_visit) AS sharer, min(v.first_visit) AS first_visit
FROM siyu.fission_visits AS v
WHERE v.sharer != v.invitee
GROUP BY v.project, v.invitee;

-- The share tree: every visit edge with the invitee's depth in the first-touch tree
-- (1 = invited by a root sharer) and that tree's root.
CREATE OR REPLACE VIEW siyu.fission_tree AS
SELECT v.project AS project, v.sharer AS sharer, v.invitee AS invitee,
       v.first_visit AS first_visit, greatest(a.depth, 1) AS depth,
       if(a.root = '', v.sharer, a.root) AS root, v.campaign AS campaign
FROM siyu.fission_visits AS v
LEFT JOIN
(
    SELECT project, invitee, max(distance) AS depth, argMax(sharer, distance) AS root
    FROM siyu.fission_descendants
    GROUP BY project, invitee
) AS a ON a.project = v.project AND a.invitee = v.invitee
SETTINGS join_use_nulls = 0;

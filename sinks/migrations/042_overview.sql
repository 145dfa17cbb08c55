-- The projects and their timezones, from the settings (written in at every start): the
-- overview page's project selector and its calendar days read them.
CREATE OR REPLACE VIEW siyu.project_zones AS
SELECT project, timezone
FROM values('project String, timezone String', {{project_zones}});

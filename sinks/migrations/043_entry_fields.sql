-- Per event: the entry fields (channel, utm, campaign, scene, material) as the tag engine
-- reads them (the scene dictionary scenes.yaml; context.qr, context.material and
-- context.channel of the envelope), so the per-event channel and the first/last-touch
-- tags agree. Replaces the view of 041_analytics.sql.
CREATE OR REPLACE VIEW siyu.events_enriched AS
SELECT
    project, event_id, event, time, event_time, date, user_id, platform,
    {{entry_utm_source(context, properties)}} AS utm_source,
    {{entry_utm_medium(context, properties)}} AS utm_medium,
    {{entry_campaign(context, properties)}} AS campaign,
    ifNull(toString({{entry_scene(context, properties)}}), '') AS scene,
    {{entry_channel(context, properties)}} AS channel,
    {{entry_material(context, properties)}} AS material,
    JSONExtractString(properties, 'experiment') AS experiment,
    JSONExtractString(properties, 'variant') AS variant,
    if(JSONExtractString(properties, 'group_id') != '', JSONExtractString(properties, 'group_id'),
       JSONExtractString(context, 'group_id')) AS group_id,
    JSONExtractString(properties, 'push_id') AS push_id,
    JSONExtractFloat(properties, 'amount') AS amount
FROM siyu.events_current;

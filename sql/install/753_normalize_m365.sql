-- Microsoft 365 (Microsoft Graph v1.0) -> users, controls (control_type
-- 'm365_secure_score'), risks.  A connection is one Entra ID tenant, which is
-- one etop client (connections.options client_id, or client_external_id +
-- client_source).  Endpoints (etop.sync_pages.endpoint, the Graph path
-- after /v1.0/; payload = the page's "value" array):
--   users                                                  ($select incl. accountEnabled, signInActivity)
--   reports/authenticationMethods/userRegistrationDetails  MFA
--   identityProtection/riskyUsers                          risk level
--   security/secureScoreControlProfiles                    the controls
--   security/secureScores                                  the scores (the latest one counts)
--   security/alerts_v2                                     Defender alerts -> risks
-- The mapping, field by field, is in docs/adapters.md.

-- The client a Microsoft 365 connection's tenant belongs to.
CREATE FUNCTION etop_internal.m365_client(p_run bigint, p_opts jsonb) RETURNS integer
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_conn text;
    v_client integer;
    v_source text := coalesce(p_opts ->> 'client_source', 'connectwise');
BEGIN
    SELECT r.connection INTO v_conn FROM etop.sync_runs r WHERE r.id = p_run;
    IF p_opts ? 'client_id' THEN
        IF jsonb_typeof(p_opts -> 'client_id') NOT IN ('number', 'string')
           OR (p_opts ->> 'client_id') !~ '^\d{1,9}$' THEN
            RAISE EXCEPTION 'Microsoft 365 connection "%": option client_id is %, expected an etop.clients id',
                            v_conn, p_opts -> 'client_id' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT c.id INTO v_client FROM etop.clients c WHERE c.id = (p_opts ->> 'client_id')::int;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'Microsoft 365 connection "%" is mapped to client %, which does not exist',
                            v_conn, p_opts ->> 'client_id'
                USING ERRCODE = 'foreign_key_violation',
                      HINT = 'Fix the connection option client_id (SELECT id, name FROM etop.clients).';
        END IF;
    ELSIF p_opts ? 'client_external_id' THEN
        SELECT c.id INTO v_client FROM etop.clients c
         WHERE c.source = v_source AND c.external_id = p_opts ->> 'client_external_id';
        IF NOT FOUND THEN
            RAISE EXCEPTION 'Microsoft 365 connection "%" is mapped to % client %, which is not in etop.clients',
                            v_conn, v_source, p_opts -> 'client_external_id'
                USING ERRCODE = 'foreign_key_violation',
                      HINT = 'Sync that vendor first, or fix the connection options client_external_id / client_source.';
        END IF;
    ELSE
        RAISE EXCEPTION 'Microsoft 365 connection "%" is not mapped to a client', v_conn
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A Microsoft 365 tenant belongs to one client: set the connection option client_id '
                         '(etop.clients.id) or client_external_id (with client_source, default "connectwise"), '
                         'e.g. {"client_external_id": "250"}.';
    END IF;
    RETURN v_client;
END
$$;
COMMENT ON FUNCTION etop_internal.m365_client(bigint, jsonb) IS
    'The etop client of a Microsoft 365 sync run (connection option client_id, or client_external_id + client_source)';

-- A number Graph may send as a JSON number or, for controlScores' undeclared
-- extra properties (scoreInPercentage, ...), as a string ("69", "12.5"); NULL
-- when missing, null or not a number (an extra that is not there is missing).
CREATE FUNCTION etop_internal.m365_number(p jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN jsonb_typeof(p) = 'number' THEN (p #>> '{}')::numeric
                WHEN jsonb_typeof(p) = 'string' AND btrim(p #>> '{}') ~ '^[-+]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][-+]?[0-9]{1,3})?$'
                THEN btrim(p #>> '{}')::numeric END
$$;
COMMENT ON FUNCTION etop_internal.m365_number(jsonb) IS
    'A Graph number given as a number or a numeric string, else NULL';

CREATE FUNCTION etop.normalize_m365(run_id bigint) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    v_run      bigint := normalize_m365.run_id;
    v_vendor   constant text := 'Microsoft Graph';
    v_opts     jsonb;
    v_client   integer;
    ep_users   constant text[] := ARRAY['users'];
    ep_reg     constant text[] := ARRAY['reports/authenticationMethods/userRegistrationDetails'];
    ep_risky   constant text[] := ARRAY['identityProtection/riskyUsers'];
    ep_prof    constant text[] := ARRAY['security/secureScoreControlProfiles'];
    ep_scores  constant text[] := ARRAY['security/secureScores'];
    ep_alerts  constant text[] := ARRAY['security/alerts_v2'];
    n_users bigint := 0; n_controls bigint := 0; n_risks bigint := 0; s_deprecated bigint := 0;
    d_users boolean; d_reg boolean; d_risky boolean; d_prof boolean; d_alerts boolean;   -- a record delivered twice
    v_skipped  jsonb;           -- endpoints the tenant refused (licence, permission)
    no_signins boolean;
    result jsonb;
BEGIN
    v_opts := etop.sync_run_options(v_run);
    v_client := etop_internal.m365_client(v_run, v_opts);

    -- What the tenant did not give, per dataset the scores use: the adapter
    -- skipped the endpoint (or users' signInActivity) on a 403.  Unavailable
    -- datasets are recorded for the client; datasets this run got again are
    -- available again.
    v_skipped := etop.sync_skipped(v_run);
    WITH sk AS (
        SELECT DISTINCT ON (dataset) dataset, e
          FROM (SELECT CASE WHEN e ->> 'endpoint' = 'users' AND e ->> 'property' = 'signInActivity'
                                 THEN 'sign_in_activity'
                            WHEN e ->> 'endpoint' = 'reports/authenticationMethods/userRegistrationDetails' THEN 'mfa'
                            WHEN e ->> 'endpoint' = 'identityProtection/riskyUsers' THEN 'user_risk'
                            WHEN e ->> 'endpoint' IN ('security/secureScores', 'security/secureScoreControlProfiles')
                                 THEN 'secure_score'
                            WHEN e ->> 'endpoint' = 'security/alerts_v2' THEN 'alerts' END AS dataset,
                       e, o
                  FROM jsonb_array_elements(v_skipped) WITH ORDINALITY x(e, o)) y
         WHERE dataset IS NOT NULL
         ORDER BY dataset, o),
    del AS (
        DELETE FROM etop.unavailable_sources t
         WHERE t.client_id = v_client AND t.source = 'm365'
           AND t.dataset NOT IN (SELECT dataset FROM sk))
    INSERT INTO etop.unavailable_sources AS t (client_id, source, dataset, reason, needs, endpoint,
                                               vendor_code, run_id)
    SELECT v_client, 'm365', dataset, e ->> 'reason', e ->> 'needs',
           e ->> 'endpoint' || coalesce(' (' || (e ->> 'property') || ')', ''), e ->> 'code', v_run
      FROM sk
    ON CONFLICT (client_id, source, dataset) DO UPDATE
       SET reason = excluded.reason, needs = excluded.needs, endpoint = excluded.endpoint,
           vendor_code = excluded.vendor_code, run_id = excluded.run_id, checked_at = now(),
           since = CASE WHEN (t.reason, t.needs) IS DISTINCT FROM (excluded.reason, excluded.needs)
                        THEN now() ELSE t.since END;
    no_signins := EXISTS (SELECT FROM jsonb_array_elements(v_skipped) e
                           WHERE e ->> 'endpoint' = 'users' AND e ->> 'property' = 'signInActivity');

    -- Every record is checked before anything is written.
    SELECT duplicates > 0 INTO d_users
      FROM etop.sync_validate(v_run, v_vendor, ep_users, 'id', $j${
        "id": "string_id!", "userPrincipalName": "string!", "displayName": "string", "mail": "string",
        "accountEnabled": "boolean!", "userType": "string", "signInActivity": "object",
        "signInActivity.lastSignInDateTime": "timestamp",
        "signInActivity.lastSuccessfulSignInDateTime": "timestamp"}$j$,
        p_hint => 'The users request needs $select=id,displayName,mail,userPrincipalName,accountEnabled,userType,signInActivity.');
    SELECT duplicates > 0 INTO d_reg
      FROM etop.sync_validate(v_run, v_vendor, ep_reg, 'id', $j${
        "id": "string_id!", "isMfaRegistered": "boolean", "isMfaCapable": "boolean"}$j$);
    SELECT duplicates > 0 INTO d_risky
      FROM etop.sync_validate(v_run, v_vendor, ep_risky, 'id', $j${
        "id": "string_id!", "riskLevel": "string!", "riskState": "string", "isDeleted": "boolean"}$j$);
    SELECT duplicates > 0 INTO d_prof
      FROM etop.sync_validate(v_run, v_vendor, ep_prof, 'id', $j${
        "id": "string_id!", "title": "string", "maxScore": "number!", "controlCategory": "string",
        "deprecated": "boolean", "service": "string", "tier": "string", "rank": "int",
        "actionType": "string", "actionUrl": "string", "implementationCost": "string",
        "userImpact": "string", "threats": "array", "lastModifiedDateTime": "timestamp"}$j$);
    PERFORM etop.sync_validate(v_run, v_vendor, ep_scores, 'id', $j${
        "id": "string_id!", "createdDateTime": "timestamp!", "controlScores": "array",
        "currentScore": "number", "maxScore": "number"}$j$);
    PERFORM etop.sync_validate(v_run, v_vendor, ep_scores, 'id', $j${
        "controlName": "string!", "score": "any", "scoreInPercentage": "any",
        "implementationStatus": "any", "controlCategory": "string", "lastSynced": "timestamp"}$j$,
        p_nested => 'controlScores', p_nested_id => 'controlName');
    -- controlScores' score: a number, or a numeric string ("6", as Graph sends
    -- the undeclared properties); anything else is an error
    PERFORM etop.sync_fail(v_vendor, r.endpoint, r.rec ->> 'id',
                           format('controlScores entry %s: field "score" is %s, expected a number',
                                  e.el ->> 'controlName', e.el -> 'score'))
       FROM etop.sync_records(v_run, ep_scores) r
      CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(r.rec -> 'controlScores') = 'array'
                                                   THEN r.rec -> 'controlScores' ELSE '[]' END) e(el)
      WHERE jsonb_typeof(e.el -> 'score') NOT IN ('number', 'null')
        AND etop_internal.m365_number(e.el -> 'score') IS NULL;
    SELECT duplicates > 0 INTO d_alerts
      FROM etop.sync_validate(v_run, v_vendor, ep_alerts, 'id', $j${
        "id": "string_id!", "title": "string", "description": "string", "severity": "string!",
        "status": "string!", "serviceSource": "string", "classification": "string",
        "category": "string", "createdDateTime": "timestamp!", "resolvedDateTime": "timestamp",
        "recommendedActions": "string", "evidence": "array"}$j$);

    -- Users.  MFA and risk come from their own endpoints below; a new user
    -- starts without MFA and at risk level none.
    WITH src AS (
        SELECT r.rec
          FROM etop.sync_latest(v_run, ep_users, d_users) r),
    up AS (
        INSERT INTO etop.users AS t (client_id, source, external_id, display_name, email, upn,
                                    account_enabled, mfa_enabled, risk_level, last_sign_in)
        SELECT v_client, 'm365', rec ->> 'id', left(nullif(btrim(rec ->> 'displayName'), ''), 255),
               left(nullif(btrim(rec ->> 'mail'), ''), 255), left(btrim(rec ->> 'userPrincipalName'), 255),
               (rec ->> 'accountEnabled')::boolean, false, 'none',
               coalesce(etop.sync_ts(rec -> 'signInActivity' ->> 'lastSignInDateTime'),
                        etop.sync_ts(rec -> 'signInActivity' ->> 'lastSuccessfulSignInDateTime'))
          FROM src
        ON CONFLICT (client_id, source, external_id) DO UPDATE
           SET display_name = excluded.display_name, email = excluded.email, upn = excluded.upn,
               account_enabled = excluded.account_enabled,
               -- without signInActivity (licence, permission) the last known sign-in stays
               last_sign_in = CASE WHEN no_signins THEN t.last_sign_in ELSE excluded.last_sign_in END,
               risk_level = coalesce(t.risk_level, 'none'), updated_at = now()
         WHERE (t.display_name, t.email, t.upn, t.account_enabled, t.last_sign_in, t.risk_level)
               IS DISTINCT FROM (excluded.display_name, excluded.email, excluded.upn, excluded.account_enabled,
                                 CASE WHEN no_signins THEN t.last_sign_in ELSE excluded.last_sign_in END,
                                 coalesce(t.risk_level, 'none')))
    SELECT count(*) INTO n_users FROM src;

    -- MFA: isMfaCapable (a strong method registered AND allowed by the
    -- authentication methods policy), else isMfaRegistered.
    UPDATE etop.users u SET mfa_enabled = x.mfa, updated_at = now()
      FROM (SELECT r.rec ->> 'id' AS id,
                   coalesce((r.rec ->> 'isMfaCapable')::boolean, (r.rec ->> 'isMfaRegistered')::boolean,
                            etop.sync_fail(v_vendor, r.endpoint, r.rec ->> 'id',
                                           'has neither "isMfaCapable" nor "isMfaRegistered"',
                                           'null_value_not_allowed')::boolean) AS mfa
              FROM etop.sync_latest(v_run, ep_reg, d_reg) r) x
     WHERE u.client_id = v_client AND u.source = 'm365' AND u.external_id = x.id
       AND u.mfa_enabled IS DISTINCT FROM x.mfa;

    -- Risk: riskLevel (low/medium/high; none, hidden and unknownFutureValue
    -- are none); a remediated or dismissed risk is none.
    UPDATE etop.users u SET risk_level = x.level, updated_at = now()
      FROM (SELECT r.rec ->> 'id' AS id,
                   CASE WHEN lower(r.rec ->> 'riskState') IN ('remediated', 'dismissed') THEN 'none'
                        WHEN lower(r.rec ->> 'riskLevel') IN ('low', 'medium', 'high', 'none') THEN lower(r.rec ->> 'riskLevel')
                        WHEN lower(r.rec ->> 'riskLevel') IN ('hidden', 'unknownfuturevalue') THEN 'none'
                        ELSE etop.sync_fail(v_vendor, r.endpoint, r.rec ->> 'id',
                                            format('field "riskLevel" is %s, expected low, medium, high, none, hidden or unknownFutureValue',
                                                   r.rec -> 'riskLevel'))::text END AS level
              FROM etop.sync_latest(v_run, ep_risky, d_risky) r
             WHERE r.rec -> 'isDeleted' IS DISTINCT FROM 'true') x
     WHERE u.client_id = v_client AND u.source = 'm365' AND u.external_id = x.id
       AND u.risk_level IS DISTINCT FROM x.level;

    -- Secure Score controls: each (non-deprecated) control profile, scored by
    -- the latest secure score's controlScores.  pass: score >= maxScore;
    -- fail: score = 0; unknown: partly implemented, or no score.
    WITH latest AS (
        SELECT r.rec FROM etop.sync_records(v_run, ep_scores) r
         ORDER BY etop.sync_ts(r.rec ->> 'createdDateTime') DESC, r.page DESC, r.item DESC LIMIT 1),
    cs AS (
        SELECT DISTINCT ON (e.el ->> 'controlName') e.el ->> 'controlName' AS name, e.el,
               latest.rec ->> 'createdDateTime' AS score_date, latest.rec ->> 'id' AS score_id
          FROM latest CROSS JOIN LATERAL jsonb_array_elements(
                   CASE WHEN jsonb_typeof(latest.rec -> 'controlScores') = 'array'
                        THEN latest.rec -> 'controlScores' ELSE '[]' END) WITH ORDINALITY e(el, pos)
         ORDER BY e.el ->> 'controlName', e.pos DESC),
    prof AS (
        SELECT r.rec
          FROM etop.sync_latest(v_run, ep_prof, d_prof) r),
    res AS (
        SELECT p.rec, cs.el, cs.score_date, cs.score_id,
               (p.rec ->> 'maxScore')::numeric AS mx, etop_internal.m365_number(cs.el -> 'score') AS sc,
               p.rec -> 'deprecated' = 'true' AS deprecated
          FROM prof p LEFT JOIN cs ON cs.name = p.rec ->> 'id'),
    up AS (
        INSERT INTO etop.controls AS t (client_id, source, external_id, control_type, title, status, evidence,
                                       last_checked)
        SELECT v_client, 'm365', rec ->> 'id', 'm365_secure_score',
               left(coalesce(nullif(btrim(rec ->> 'title'), ''), rec ->> 'id'), 255),
               CASE WHEN sc IS NULL THEN 'unknown' WHEN sc >= mx THEN 'pass' WHEN sc = 0 THEN 'fail'
                    ELSE 'unknown' END,
               jsonb_build_object('score', sc, 'maxScore', mx) || jsonb_strip_nulls(jsonb_build_object(
                   'scoreInPercentage', to_jsonb(etop_internal.m365_number(el -> 'scoreInPercentage')),
                   'implementationStatus', el -> 'implementationStatus',
                   'controlCategory', coalesce(rec -> 'controlCategory', el -> 'controlCategory'),
                   'service', rec -> 'service', 'tier', rec -> 'tier', 'rank', rec -> 'rank',
                   'actionType', rec -> 'actionType', 'actionUrl', rec -> 'actionUrl',
                   'implementationCost', rec -> 'implementationCost', 'userImpact', rec -> 'userImpact',
                   'threats', rec -> 'threats', 'secureScoreId', score_id, 'scoreDate', score_date)),
               coalesce(etop.sync_ts(el ->> 'lastSynced'), etop.sync_ts(score_date),
                        etop.sync_ts(rec ->> 'lastModifiedDateTime'))
          FROM res WHERE NOT coalesce(deprecated, false)
        ON CONFLICT (client_id, source, external_id) DO UPDATE
           SET control_type = excluded.control_type, title = excluded.title, status = excluded.status,
               evidence = excluded.evidence, last_checked = excluded.last_checked, updated_at = now()
         WHERE (t.control_type, t.title, t.status, t.evidence, t.last_checked)
               IS DISTINCT FROM (excluded.control_type, excluded.title, excluded.status, excluded.evidence,
                                 excluded.last_checked))
    SELECT count(*) FILTER (WHERE NOT coalesce(deprecated, false)), count(*) FILTER (WHERE deprecated)
      INTO n_controls, s_deprecated FROM res;

    -- Defender alerts -> risks.  Type: email for Defender for Office 365,
    -- identity for Entra ID Protection / Defender for Identity, endpoint for
    -- everything else (options.risk_type_map first).  Impact follows the
    -- severity; likelihood the classification (true positive high, false
    -- positive or expected activity low, unclassified medium).
    WITH src AS (
        SELECT r.endpoint, r.rec
          FROM etop.sync_latest(v_run, ep_alerts, d_alerts) r),
    res AS (
        SELECT s.rec,
               CASE WHEN v_opts -> 'risk_type_map' ->> (s.rec ->> 'serviceSource') IN ('identity', 'email', 'endpoint', 'business')
                    THEN v_opts -> 'risk_type_map' ->> (s.rec ->> 'serviceSource')
                    WHEN s.rec ->> 'serviceSource' ~* 'office' THEN 'email'
                    WHEN s.rec ->> 'serviceSource' ~* '(identity|azureAd)' THEN 'identity'
                    ELSE 'endpoint' END AS risk_type,
               -- alertSeverity: unknown, informational, low, medium, high, unknownFutureValue
               CASE WHEN lower(s.rec ->> 'severity') IN ('informational', 'low', 'medium', 'high')
                    THEN lower(s.rec ->> 'severity')
                    WHEN lower(s.rec ->> 'severity') IN ('unknown', 'unknownfuturevalue') THEN 'informational'
                    ELSE etop.sync_fail(v_vendor, s.endpoint, s.rec ->> 'id',
                                        format('field "severity" is %s, expected unknown, informational, low, medium or high',
                                               s.rec -> 'severity'))::text END AS severity,
               -- alertStatus: unknown, new, inProgress, resolved, unknownFutureValue (not known to be
               -- resolved is open)
               CASE WHEN s.rec ->> 'status' IN ('unknown', 'new', 'inProgress', 'unknownFutureValue') THEN 'open'
                    WHEN s.rec ->> 'status' = 'resolved' THEN 'mitigated'
                    ELSE etop.sync_fail(v_vendor, s.endpoint, s.rec ->> 'id',
                                        format('field "status" is %s, expected unknown, new, inProgress or resolved',
                                               s.rec -> 'status'))::text END AS status,
               CASE WHEN s.rec ->> 'classification' = 'truePositive' THEN 'high'
                    WHEN s.rec ->> 'classification' IN ('falsePositive', 'informationalExpectedActivity') THEN 'low'
                    ELSE 'medium' END AS likelihood,
               (SELECT upper(coalesce(nullif(e ->> 'hostName', ''), split_part(e ->> 'deviceDnsName', '.', 1)))
                  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s.rec -> 'evidence') = 'array'
                                                 THEN s.rec -> 'evidence' ELSE '[]' END) WITH ORDINALITY x(e, o)
                 WHERE jsonb_typeof(e) = 'object' AND e ->> '@odata.type' ~* 'deviceEvidence'
                   AND coalesce(nullif(e ->> 'hostName', ''), nullif(e ->> 'deviceDnsName', '')) IS NOT NULL
                 ORDER BY o LIMIT 1) AS host
          FROM src s),
    up AS (
        INSERT INTO etop.risks AS t (client_id, device_id, source, external_id, risk_type, title, description,
                                    severity, likelihood, impact, status, mitigation, detected_at, resolved_at)
        SELECT v_client,
               (SELECT d.id FROM etop.devices d WHERE d.client_id = v_client AND upper(d.name) = res.host
                 ORDER BY d.id LIMIT 1),
               'm365', rec ->> 'id', risk_type, left(nullif(btrim(rec ->> 'title'), ''), 255),
               nullif(btrim(rec ->> 'description'), ''), severity, likelihood,
               CASE severity WHEN 'high' THEN 'high' WHEN 'medium' THEN 'medium' ELSE 'low' END,
               status, nullif(btrim(rec ->> 'recommendedActions'), ''),
               etop.sync_ts(rec ->> 'createdDateTime'),
               CASE WHEN status = 'mitigated' THEN etop.sync_ts(rec ->> 'resolvedDateTime') END
          FROM res
        ON CONFLICT (client_id, source, external_id) DO UPDATE
           SET device_id = excluded.device_id, risk_type = excluded.risk_type, title = excluded.title,
               description = excluded.description, severity = excluded.severity,
               likelihood = excluded.likelihood, impact = excluded.impact, status = excluded.status,
               mitigation = excluded.mitigation, detected_at = excluded.detected_at,
               resolved_at = excluded.resolved_at, updated_at = now()
         WHERE (t.device_id, t.risk_type, t.title, t.description, t.severity, t.likelihood, t.impact, t.status,
                t.mitigation, t.detected_at, t.resolved_at)
               IS DISTINCT FROM (excluded.device_id, excluded.risk_type, excluded.title, excluded.description,
                                 excluded.severity, excluded.likelihood, excluded.impact, excluded.status,
                                 excluded.mitigation, excluded.detected_at, excluded.resolved_at))
    SELECT count(*) INTO n_risks FROM res;

    result := jsonb_build_object('users', n_users, 'controls', n_controls, 'risks', n_risks);
    IF s_deprecated > 0 THEN
        result := result || jsonb_build_object('skipped', jsonb_build_object('deprecated_controls', s_deprecated));
    END IF;
    IF jsonb_array_length(v_skipped) > 0 THEN
        result := result || jsonb_build_object('skipped_endpoints', v_skipped);
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION etop.normalize_m365(bigint) IS
    'Normalize a Microsoft 365 (Graph) sync run''s pages into users, m365_secure_score controls and risks for the connection''s client (set-based, idempotent); returns the record counts';

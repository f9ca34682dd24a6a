-- A text description of everything etop defines, one line per fact, sorted:
-- what tests/integration/upgrade.sh compares between an upgraded and a fresh
-- install.  Names and definitions only (no OIDs); ACLs sorted per object.
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'etop'),
     ns AS (SELECT oid FROM pg_namespace WHERE nspname IN ('etop', 'etop_internal'))
SELECT line FROM (
  -- every member object of the extension
  SELECT 'member ' || pg_describe_object(d.classid, d.objid, d.objsubid) AS line
    FROM pg_depend d, ext WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
  UNION ALL
  -- relations: kind, persistence, RLS, privileges, options
  SELECT format('rel %s kind=%s persistence=%s rls=%s force=%s acl=%s options=%s', c.oid::regclass, c.relkind,
                c.relpersistence, c.relrowsecurity, c.relforcerowsecurity,
                (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(c.relacl) x), c.reloptions)
    FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM ns)
  UNION ALL
  -- columns: position, type, null, default, identity, privileges
  SELECT format('col %s.%s #%s %s notnull=%s default=%s identity=%s acl=%s', c.oid::regclass, a.attname, a.attnum,
                format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid),
                a.attidentity, (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(a.attacl) x))
    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
   WHERE c.relnamespace IN (SELECT oid FROM ns)
  UNION ALL
  SELECT format('constraint %s %s %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid))
    FROM pg_constraint c WHERE c.connamespace IN (SELECT oid FROM ns)
  UNION ALL
  SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace IN (SELECT oid FROM ns)
  UNION ALL
  SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
   WHERE c.relnamespace IN (SELECT oid FROM ns) AND NOT t.tgisinternal
  UNION ALL
  SELECT format('policy %s.%s %s %s roles=%s using=%s check=%s', p.schemaname, p.tablename, p.policyname,
                p.cmd, p.roles, p.qual, p.with_check)
    FROM pg_policies p WHERE p.schemaname IN ('etop', 'etop_internal')
  UNION ALL
  SELECT 'view ' || c.oid::regclass || ' ' || md5(pg_get_viewdef(c.oid))
    FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM ns) AND c.relkind IN ('v', 'm')
  UNION ALL
  SELECT format('sequence %s %s %s %s %s %s %s', s.seqrelid::regclass, format_type(s.seqtypid, NULL), s.seqstart,
                s.seqincrement, s.seqmax, s.seqmin, s.seqcycle)
    FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid WHERE c.relnamespace IN (SELECT oid FROM ns)
  UNION ALL
  -- functions: signature, result, body, attributes, settings, privileges
  SELECT format('function %s returns %s kind=%s lang=%s body=%s volatile=%s strict=%s secdef=%s parallel=%s config=%s acl=%s',
                p.oid::regprocedure, pg_get_function_result(p.oid), p.prokind, l.lanname, md5(p.prosrc || coalesce(p.probin, '')),
                p.provolatile, p.proisstrict, p.prosecdef, p.proparallel, p.proconfig,
                (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(p.proacl) x))
    FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.pronamespace IN (SELECT oid FROM ns)
       OR p.oid IN (SELECT d.objid FROM pg_depend d, ext WHERE d.classid = 'pg_proc'::regclass
                       AND d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e')
  UNION ALL
  SELECT format('type %s %s', t.oid::regtype, t.typtype)
    FROM pg_type t WHERE t.typnamespace IN (SELECT oid FROM ns) AND t.typtype IN ('e', 'c', 'd', 'b')
     AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid)
  UNION ALL
  SELECT format('enum %s %s %s', e.enumtypid::regtype, e.enumsortorder, e.enumlabel)
    FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typnamespace IN (SELECT oid FROM ns)
  UNION ALL
  SELECT format('schema %s owner-is-superuser=%s acl=%s', n.nspname, r.rolsuper,
                (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(n.nspacl) x))
    FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname IN ('etop', 'etop_internal')
  UNION ALL
  SELECT format('extension etop schema=%s relocatable=%s', e.extnamespace::regnamespace, e.extrelocatable)
    FROM pg_extension e WHERE e.extname = 'etop'
  UNION ALL
  -- what pg_dump dumps of each table
  SELECT format('config_dump %s %s', x.rel::regclass, x.cond)
    FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(rel, cond) WHERE e.extname = 'etop'
  UNION ALL
  SELECT 'event_trigger ' || evtname || ' ' || evtevent || ' ' || evtfoid::regproc || ' ' || evtenabled::text || ' ' || coalesce(evttags::text, '')
    FROM pg_event_trigger
  UNION ALL
  -- comments on etop's relations, columns and functions
  SELECT format('comment %s %s', pg_describe_object(d.classoid, d.objoid, d.objsubid), md5(d.description))
    FROM pg_description d
   WHERE (d.classoid = 'pg_class'::regclass AND d.objoid IN (SELECT oid FROM pg_class WHERE relnamespace IN (SELECT oid FROM ns)))
      OR (d.classoid = 'pg_proc'::regclass AND d.objoid IN (SELECT oid FROM pg_proc WHERE pronamespace IN (SELECT oid FROM ns)))
) s ORDER BY line;

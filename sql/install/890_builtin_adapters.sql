-- The built-in adapters register exactly as a third-party one would.
INSERT INTO etop.adapters (name, description, library, symbol, normalize_function, entities, builtin) VALUES
    ('connectwise', 'ConnectWise Manage REST API 3.0: companies, sites, contacts, agreements, tickets, configurations',
     '$libdir/etop', 'etop_adapter_connectwise', 'etop.normalize_connectwise(bigint)',
     '{clients,sites,contacts,agreements,tickets,devices}', true),
    ('immy', 'Immy.Bot API v1: computers, baselines (target assignments), compliance results',
     '$libdir/etop', 'etop_adapter_immy', 'etop.normalize_immy(bigint)',
     '{devices,controls,external_refs}', true),
    ('m365', 'Microsoft Graph v1.0: users, MFA registration, risky users, Secure Score, Defender alerts',
     '$libdir/etop', 'etop_adapter_m365', 'etop.normalize_m365(bigint)',
     '{users,controls,risks}', true);

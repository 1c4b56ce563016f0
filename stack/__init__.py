"""The production topology: PostgreSQL, a one-shot migration, two web replicas behind
HAProxy, a Prefect server on PostgreSQL and two workers. compose.yaml runs it in
containers; `etablera stack up` (launcher.py) runs the same processes on loopback from the
same settings (stack.env) and the same HAProxy configuration (haproxy.cfg)."""

"""Store adapters for the core's ports, one folder per technology (``redis/``), and the shared
wire codec of domain values (``codec``)."""

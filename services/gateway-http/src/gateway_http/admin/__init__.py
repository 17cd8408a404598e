"""Client key lifecycle: the ``/v1/admin/keys`` routes, their wiring, the ``keys`` commands."""

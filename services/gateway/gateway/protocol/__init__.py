"""The national envelope as the gateway reads and answers it (``envelope``), its refusals (``errors``) and
the national code tables it validates against and answers with (``code_tables``, ``funds``): the kernel
that the downstream calls, the signature checks, a transaction's declaration (``gateway.declaration``) and
every family module in ``gateway.nhsa`` build on, importing nothing of theirs."""

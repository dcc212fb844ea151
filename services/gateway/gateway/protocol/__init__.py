"""The national envelope as the gateway reads and answers it, its refusals, and what one transaction
code is (``Transaction``): the kernel every family module in ``gateway.nhsa``, the downstream calls and the
signature checks build on, importing nothing of theirs."""

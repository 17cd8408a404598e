"""The admission policy: everything that may refuse a request before a model is called.

In order: the request is within the caps (400 naming the parameter: ``request_caps``), the
key may use the model (403, ``Authenticator.authorize_model``), the rate limiter
admits the request and reserves its estimated tokens (429), the key is within its monthly
budget (402). Chat (JSON and streams) and embeddings admit through it; a turn that produced
nothing gives its reservation back (``release``), one that was answered settles it with the
real token count (``settle``, off the request's path).
"""

from __future__ import annotations

from gateway_core.domain.money import Money
from gateway_core.domain.request_caps import (
    ModelCatalogue,
    OutputCap,
    RequestCaps,
    RequestSize,
    check_model_name,
    check_request,
)
from gateway_core.ports.tracing import NO_TRACER, StepTracer
from gateway_core.use_cases.authenticate import Authenticator
from gateway_core.use_cases.background import BackgroundTasks
from gateway_core.use_cases.caller import ChatCaller
from gateway_core.use_cases.rate_limit import Admission, RateLimiter
from gateway_core.use_cases.usage import MonthlyBudget


class AdmissionPolicy:
    def __init__(
        self,
        *,
        limiter: RateLimiter | None = None,
        budget: MonthlyBudget | None = None,
        authenticator: Authenticator | None = None,
        background: BackgroundTasks | None = None,
        tracer: StepTracer = NO_TRACER,
        caps: RequestCaps | None = None,
        catalogue: ModelCatalogue | None = None,
    ) -> None:
        self.limiter = limiter
        self.caps = caps or RequestCaps()
        self.catalogue = catalogue or ModelCatalogue()
        """Replaced whole by a reload of the model catalogue (one assignment, no await)."""
        self._tracer = tracer
        self.budget = budget
        # The permission rule needs no keys: an empty authenticator applies it when
        # authentication is wired elsewhere (in process, in tests).
        self._authenticator = authenticator or Authenticator(())
        # ``is None``, not ``or``: an idle BackgroundTasks is empty, hence falsy.
        self._background = BackgroundTasks() if background is None else background

    async def admit(
        self,
        caller: ChatCaller,
        model: str,
        estimated_tokens: int,
        size: RequestSize | None = None,
    ) -> Admission | None:
        """Raises ``RequestCapError``, ``PermissionDeniedError``, ``RateLimitExceededError``,
        ``BudgetExceededError``; returns the rate limiter's admission (its headers), if any.
        ``size``: the request's size in its door's terms (else only the model name is
        checked)."""
        if size is None:
            check_model_name(model, self.caps)
        else:
            check_request(size, self.caps, self.catalogue)
        with self._tracer.span("admission"):
            return await self._admit(caller, model, estimated_tokens)

    def output_cap(self, model: str, requested: int | None) -> OutputCap:
        """The cap on what one answer of ``model`` may generate before it is cut."""
        limits = self.catalogue.limits_for(model)
        return OutputCap(limits.max_output_tokens, requested, self.caps.output_margin)

    async def _admit(
        self, caller: ChatCaller, model: str, estimated_tokens: int
    ) -> Admission | None:
        key = caller.key
        if key is not None:
            self._authenticator.authorize_model(key, model)
        admission = None
        if self.limiter is not None:
            admission = await self.limiter.admit(
                caller.identity,
                estimated_tokens=estimated_tokens,
                limits=self.limiter.limits_for(key),
            )
        if self.budget is not None and key is not None:
            try:
                await self.budget.ensure_within_budget(key.id, key.monthly_budget_usd)
            except BaseException:
                await self.release(admission)
                raise
        return admission

    async def release(self, admission: Admission | None) -> None:
        """A request that produced nothing gives its token reservation back."""
        if admission is not None and self.limiter is not None:
            await self.limiter.reconcile(admission, 0)

    def settle(self, admission: Admission | None, spent_tokens: int) -> None:
        """Reconcile the reservation with what was spent: against the client's lease at once
        when it can take it, else a store round trip the answer need not wait for (never
        raises); it reaches the store before the client can send its next request. Nothing to
        adjust (no token limit: the usual case, or an exact estimate) costs one comparison."""
        if admission is None or self.limiter is None or admission.token_delta(spent_tokens) == 0:
            return
        rest = self.limiter.settle(admission, spent_tokens)
        if rest is not None:
            self._background.run(rest)

    def note_spend(self, key_id: str, cost_usd: Money) -> None:
        """Keep the budget's view of the month current without another store read."""
        if self.budget is not None and cost_usd:
            self.budget.note(key_id, cost_usd)

"""Constrained decoding trains the policy that acted (issue 13, item 6) and NaN logits fail loudly (bug 1).

When generation is constrained to the admissible actions, the acting policy is the restricted
``q = softmax(logits[A] / T)`` over the allowed token set ``A`` of each step, not the full-vocabulary ``p``
(``log q = log p - log Z``, with ``log Z`` ~ -7 per token at init on Leduc). These tests pin that the
recorded and the recomputed log-probs are both ``log q`` (PPO ratio 1 at the first epoch, through the
trainer's own update), that the masked log-likelihood and its gradient are those of an explicit log-softmax
over the allowed ids (and pass ``gradcheck`` in double), that the entropy EPO sees is that of ``q`` (at most
``log |A|``), that free-text scoring is unchanged, and that NaN weights raise a typed error at generation.

Every test here fails on the code before item 6 (no ``allowed_ids`` on generations or token batches, no
``allowed=`` in ``forward_logprobs``, ``log p`` recorded, ``KeyError: 0`` from NaN weights).
"""

from __future__ import annotations

import math

import gymnasium as gym
import pytest
import torch

pytest.importorskip("transformers")

import turngym.envs  # noqa: E402,F401  (registers the turngym/... ids)
from turngym.agents.llm.policies import (  # noqa: E402
    AllowedTokens,
    Generation,
    LMPolicy,
    NonFiniteLogitsError,
    decoding_constraint,
    forward_logprobs,
    make_tiny_model,
    restricted_logprobs,
)
from turngym.agents.llm.rollout import Episode, RolloutSettings, Turn, collect  # noqa: E402
from turngym.agents.llm.train.config import AlgoConfig, EnvConfig, OptimConfig  # noqa: E402
from turngym.agents.llm.train.tensors import build_token_batch  # noqa: E402
from turngym.agents.llm.train.update import UpdateInputs, build_loss, ppo_update, reference_logprobs  # noqa: E402
from turngym.envs.pool import make_pool  # noqa: E402

LEDUC_WORDS = {"call", "raise", "fold", "check"}
#: Multi-token choices with shared prefixes: forced steps (one allowed id), branching steps and eos.
CHOICES = ["<answer>42</answer>", "<answer>4</answer>", "Q♥ raise", "ab", "ab ab"]


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


pytestmark = pytest.mark.usefixtures("one_thread")  # fixtures: tests/agents/conftest.py


def policy(model, tokenizer, **kw) -> LMPolicy:
    kw.setdefault("max_new_tokens", 8)
    kw.setdefault("device", "cpu")
    return LMPolicy(model, tokenizer, **kw)


@pytest.fixture(scope="module")
def leduc_rollout(tokenizer):
    """A real constrained rollout of the tiny model on Leduc (temperature 1.3, top-p 0.8)."""
    pol = LMPolicy(make_tiny_model(seed=0), tokenizer, device="cpu", temperature=1.3, top_p=0.8, seed=1)
    with make_pool("turngym/LeducHoldem-v0", 8, env_kwargs=EnvConfig().train_kwargs()) as pool:
        eps = collect(pool, pol, [11, 12, 13, 14], 2, RolloutSettings(constrain=True, max_context_tokens=None))
    return pol, eps


def as_episode(gens: list[Generation]) -> Episode:
    """Wraps generations as the turns of one episode (build_token_batch reads only the generations)."""
    turns = [Turn(turn=i, state_key="", prompt=[], generation=g) for i, g in enumerate(gens)]
    return Episode(episode_id=0, group_id=0, seed=0, turns=turns)


# ------------------------------------------------------------------------------- recorded == recomputed
def test_constrained_rollout_records_log_q_and_the_first_ratio_is_one(leduc_rollout):
    pol, eps = leduc_rollout
    assert all(t.generation.text in LEDUC_WORDS for e in eps for t in e.turns)
    tb = build_token_batch(eps, pol.tokenizer.pad_token_id)
    allowed = tb.allowed_tokens()
    assert allowed is not None and len(allowed) == int(tb.loss_mask.sum())  # every completion token
    with torch.no_grad():
        logq, _ = forward_logprobs(pol.model, tb.input_ids, tb.attention_mask, temperature=1.3, allowed=allowed)
        logp, _ = forward_logprobs(pol.model, tb.input_ids, tb.attention_mask, temperature=1.3)
    m = tb.loss_mask
    ratio = (logq[m] - tb.old_logp[m]).exp()
    assert torch.allclose(ratio, torch.ones_like(ratio), atol=1e-5)
    # What changed: the full-vocabulary log p is far below log q (p puts ~0.1% of its mass on legal words).
    assert (tb.old_logp[m] - logp[m]).min() > 3.0
    # log q of a 2-4 word choice at T = 1.3 is a real probability, not ~1e-3.
    assert tb.old_logp[m].min() > math.log(1e-3)


def test_the_trainers_update_sees_ratio_one_and_the_entropy_of_q(leduc_rollout):
    """Through ``ppo_update`` itself (lr 0, so every minibatch still sees the rollout policy)."""
    pol, eps = leduc_rollout
    tb = build_token_batch(eps, pol.tokenizer.pad_token_id)
    loss_fn = build_loss(AlgoConfig(epo=True, kl_coef=0.05), with_value=False)
    ref = reference_logprobs(pol.model, tb, 1.3)
    assert torch.allclose(ref[tb.loss_mask], tb.old_logp[tb.loss_mask], atol=1e-5)  # the reference scores q too
    params = [p for p in pol.model.parameters() if p.requires_grad]
    advantages = torch.linspace(-1, 1, len(tb))
    try:
        metrics = ppo_update(pol.model, tb, UpdateInputs(advantages, ref_logp=ref), loss_fn,
                             torch.optim.SGD(params, lr=0.0), OptimConfig(epochs=2, minibatch_size=4),
                             torch.Generator().manual_seed(0), temperature=1.3)
    finally:
        pol.model.eval()
        pol.model.zero_grad(set_to_none=True)
    assert abs(metrics["policy/ratio_max"] - 1) < 1e-5 and abs(metrics["policy/ratio_min"] - 1) < 1e-5
    assert abs(metrics["policy/approx_kl"]) < 1e-6 and metrics["policy/clip_frac"] == 0.0
    # Leduc offers at most 3 words per decision: EPO must not see 7.6 nats of vocabulary entropy.
    assert 0.0 < metrics["epo/entropy"] <= math.log(3) + 1e-6


@pytest.mark.parametrize(("temperature", "top_p"), [(1.0, 1.0), (1.5, 0.9), (0.0, 1.0)])
def test_multi_token_choices_record_log_q_with_forced_steps(model, tokenizer, temperature, top_p):
    pol = policy(model, tokenizer, temperature=temperature, top_p=top_p, seed=3)
    prompts = [user(f"pick {i}") for i in range(6)] + [user("free text row")]
    gens = pol.generate(prompts, admissible=[CHOICES] * 6 + [None])
    free = gens[-1]
    assert free.allowed_ids is None
    forced = 0
    for g in gens[:-1]:
        assert g.text in CHOICES and len(g.allowed_ids) == len(g.completion_ids)
        for tok, ids, lp in zip(g.completion_ids, g.allowed_ids, g.logprobs, strict=True):
            assert tok in ids and ids == sorted(ids)
            if len(ids) == 1:  # a forced step: q puts all its mass on it
                assert lp == 0.0
                forced += 1
    assert forced > 0
    tb = build_token_batch([as_episode(gens)], pol.pad_id)
    scored_at = temperature if temperature > 0 else 1.0
    with torch.no_grad():
        logq, _ = forward_logprobs(pol.model, tb.input_ids, tb.attention_mask, temperature=scored_at,
                                   allowed=tb.allowed_tokens())
        logp, _ = forward_logprobs(pol.model, tb.input_ids, tb.attention_mask, temperature=scored_at)
    m = tb.loss_mask
    assert torch.allclose(logq[m], tb.old_logp[m], atol=1e-5)
    # The free-text row is scored under p, bit for bit as without any constraint.
    assert torch.equal(logq[-1], logp[-1])


def test_top_p_does_not_cut_the_constrained_policy(model, tokenizer):
    """The acting policy of a constrained row is q at temperature T: a top-p cut would make it greedy."""
    prompt = [user("Your card: K. Legal actions: call, raise, fold.")]
    drawn = set()
    for seed in range(12):
        pol = policy(model, tokenizer, top_p=1e-9, seed=seed)
        (g,) = pol.generate(prompt, admissible=[["call", "raise", "fold"]])
        drawn.add(g.text)
        free = pol.generate(prompt)[0]  # the free row is still nucleus-filtered: greedy here
        assert free.allowed_ids is None
    assert len(drawn) >= 2


# ----------------------------------------------------------------------------- the math of log q itself
def _padded(lists: list[list[int]]) -> torch.Tensor:
    out = torch.full((len(lists), max(map(len, lists))), -1, dtype=torch.long)
    for i, ids in enumerate(lists):
        out[i, :len(ids)] = torch.tensor(ids)
    return out


def test_restricted_logprobs_is_an_explicit_log_softmax_and_passes_gradcheck():
    gen = torch.Generator().manual_seed(0)
    lists = [[3, 7, 11], [5], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [2, 9]]
    allowed = _padded(lists)
    tokens = torch.tensor([7, 5, 0, 9])
    logits = torch.randn(4, 12, generator=gen, dtype=torch.float64) * 3
    for temperature in (1.0, 0.6):
        logq, ent = restricted_logprobs(logits, tokens, allowed, temperature, with_entropy=True)
        for i, ids in enumerate(lists):
            explicit = torch.log_softmax(logits[i, ids].float() / temperature, -1)
            assert logq[i].item() == pytest.approx(explicit[ids.index(int(tokens[i]))].item(), abs=1e-6)
            assert ent[i].item() == pytest.approx(-(explicit.exp() * explicit).sum().item(), abs=1e-6)
            assert -1e-7 <= ent[i].item() <= math.log(len(ids)) + 1e-6
    # Forced step: log q = 0, entropy 0. Full set: log q = log p.
    assert logq[1].item() == 0.0 and ent[1].item() == 0.0

    # Both outputs (log q and the entropy of q), checked against finite differences in double.
    for temperature in (1.0, 0.6):
        assert torch.autograd.gradcheck(
            lambda x, t=temperature: restricted_logprobs(x, tokens, allowed, t, with_entropy=True),
            (logits.clone().requires_grad_(True),))
    # Off the allowed set the gradient is exactly 0: q does not depend on the logits of other tokens.
    x = logits.clone().requires_grad_(True)
    restricted_logprobs(x, tokens, allowed, 1.0, with_entropy=True)[0].sum().backward()
    outside = torch.ones_like(x, dtype=torch.bool)
    for i, ids in enumerate(lists):
        outside[i, ids] = False
    assert torch.all(x.grad[outside] == 0) and torch.all(x.grad[1] == 0)  # row 1 is forced: no gradient


def test_masked_log_likelihood_gradient_matches_autograd_of_hand_written_log_q(tokenizer):
    model = make_tiny_model(seed=2)
    pol = policy(model, tokenizer, temperature=1.2, seed=5)
    gens = pol.generate([user("a"), user("bb bb"), user("c")], admissible=[CHOICES, None, CHOICES])
    tb = build_token_batch([as_episode(gens)], pol.pad_id)
    allowed = tb.allowed_tokens()
    weights = torch.linspace(0.5, 1.5, tb.input_ids.shape[1])  # any per-token weights: a generic loss
    model.zero_grad(set_to_none=True)
    logq, ent = forward_logprobs(model, tb.input_ids, tb.attention_mask, temperature=1.2, with_entropy=True,
                                 allowed=allowed)
    ((logq * weights)[tb.loss_mask].sum() + ent[tb.loss_mask].sum()).backward()
    ours = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    # By hand: one explicit log_softmax over the allowed ids per constrained position, the full one elsewhere.
    logits = model(input_ids=tb.input_ids, attention_mask=tb.attention_mask).logits.float() / 1.2
    terms = []
    for r, pos, ids in zip(allowed.row.tolist(), allowed.position.tolist(), allowed.ids.tolist(), strict=True):
        ids = [i for i in ids if i >= 0]
        dist = torch.log_softmax(logits[r, pos - 1, ids], -1)
        tok = int(tb.input_ids[r, pos])
        terms.append(dist[ids.index(tok)] * weights[pos] - (dist.exp() * dist).sum())
    r_free = 1  # the free-text row: full-vocabulary log p and entropy
    for pos in tb.loss_mask[r_free].nonzero().flatten().tolist():
        dist = torch.log_softmax(logits[r_free, pos - 1], -1)
        terms.append(dist[tb.input_ids[r_free, pos]] * weights[pos] - (dist.exp() * dist).sum())
    torch.stack(terms).sum().backward()
    for n, p in model.named_parameters():
        assert torch.allclose(ours[n], p.grad, atol=1e-5, rtol=1e-4), n
    model.zero_grad(set_to_none=True)


def test_entropy_of_q_is_at_most_log_of_the_allowed_count(leduc_rollout):
    pol, eps = leduc_rollout
    tb = build_token_batch(eps, pol.tokenizer.pad_token_id)
    allowed = tb.allowed_tokens()
    with torch.no_grad():
        _, ent_q = forward_logprobs(pol.model, tb.input_ids, tb.attention_mask, temperature=1.3,
                                    with_entropy=True, allowed=allowed)
        _, ent_p = forward_logprobs(pol.model, tb.input_ids, tb.attention_mask, temperature=1.3, with_entropy=True)
    ent_at = ent_q[allowed.row, allowed.position]
    count = (allowed.ids >= 0).sum(-1).float()
    assert torch.all(ent_at >= -1e-6) and torch.all(ent_at <= count.log() + 1e-5)
    assert ent_p[tb.loss_mask].mean() > 6.0  # what EPO measured before: ~log V of a 2k-token vocabulary


# ------------------------------------------------------------------------------------------ token batch
def test_token_batch_carries_the_constraint_through_select_and_validates_it(model, tokenizer):
    pol = policy(model, tokenizer, seed=4)
    gens = pol.generate([user("a"), user("b"), user("c"), user("d")], admissible=[CHOICES, None, CHOICES, None])
    tb = build_token_batch([as_episode(gens)], pol.pad_id)
    assert tb.allowed_ids is not None and tb.allowed_ids.shape[:2] == (4, max(len(g.completion_ids)
                                                                             for g in gens if g.allowed_ids))
    part = tb.select(torch.tensor([2, 1]))
    whole, sub = tb.allowed_tokens(), part.allowed_tokens()
    assert sub.row.tolist() == [0] * len(gens[2].completion_ids)
    assert torch.equal(sub.ids, whole.ids[whole.row == 2][:, :sub.ids.shape[1]])
    assert torch.equal(part.input_ids[0, sub.position], torch.tensor(gens[2].completion_ids))
    assert tb.select(torch.tensor([1, 3])).allowed_tokens() is None  # only free rows: scored under p
    assert tb.to("cpu").allowed_ids is not None
    # A free-text rollout carries nothing at all.
    assert build_token_batch([as_episode([gens[1], gens[3]])], pol.pad_id).allowed_ids is None
    # A constrained token outside its recorded set is a corrupted record: refuse it.
    bad = Generation(text="x", prompt_ids=[5, 6], completion_ids=[7, 8], logprobs=[-0.1, 0.0],
                     allowed_ids=[[7, 9], [9]])
    with pytest.raises(ValueError, match="not in its allowed set"):
        build_token_batch([as_episode([bad])], pol.pad_id)
    short = Generation(text="x", prompt_ids=[5], completion_ids=[7, 8], logprobs=[-0.1, 0.0], allowed_ids=[[7]])
    with pytest.raises(ValueError, match="allowed sets for 2"):
        build_token_batch([as_episode([short])], pol.pad_id)


def test_allowed_tokens_from_completions():
    rec = AllowedTokens.from_completions([3, 5], [[[4, 2], [9]], None])
    assert rec.row.tolist() == [0, 0] and rec.position.tolist() == [3, 4]
    assert rec.ids.tolist() == [[4, 2], [9, -1]]
    assert AllowedTokens.from_completions([1, 2], [None, None]) is None
    with pytest.raises(ValueError, match="empty allowed set"):
        AllowedTokens.from_completions([1], [[[]]])


# -------------------------------------------------------------------------------------- NaN weights
@pytest.mark.parametrize("admissible", [["call", "raise", "fold"], None])
def test_nan_weights_raise_a_clear_error_at_generation(tokenizer, admissible):
    """Bug 1: a NaN model used to crash constrained decoding with ``KeyError: 0`` (and free text sampled junk)."""
    model = make_tiny_model(seed=0)
    with torch.no_grad():
        # The final norm: every logit then depends on a NaN, whatever attention kernel runs (with torch's SDPA on
        # CPU, a NaN in one q_proj weight no longer reaches the logits).
        model.model.norm.weight[0] = math.nan
    pol = policy(model, tokenizer)
    with pytest.raises(NonFiniteLogitsError, match="non-finite logits .* at decoding step 0") as info:
        pol.generate([user("Your card: K")], admissible=[admissible])
    assert isinstance(info.value, FloatingPointError)
    assert "weights are probably NaN" in str(info.value)


# ------------------------------------------------------------------------------- open actions (templates)
def test_a_template_action_makes_the_row_free_text_and_plain_tags_do_not():
    # WebShop's search page lists ``search[<your query>]``: an open action, so the row decodes free text.
    assert decoding_constraint(["search[<your query>]", "click[buy now]"]) is None
    assert decoding_constraint([]) is None and decoding_constraint(None) is None
    # Tags are not templates: these lists stay constrained, exactly as given.
    assert decoding_constraint(CHOICES) == CHOICES
    assert decoding_constraint(["click[< prev]", "click[next >]"]) == ["click[< prev]", "click[next >]"]


def test_the_webshop_search_page_is_sampled_as_free_text_and_its_item_pages_are_constrained(model, tokenizer):
    env = gym.make("turngym/WebShop-v0")
    _, search_info = env.reset(seed=3)
    results = env.step("search[yoga pants]")[4]["admissible_actions"]
    env.close()
    assert "search[<your query>]" in search_info["admissible_actions"]
    assert results and decoding_constraint(results) == results
    pol = policy(model, tokenizer, seed=5, max_new_tokens=6)
    free, constrained = pol.generate([user("search page"), user("results page")],
                                     admissible=[search_info["admissible_actions"], results])
    assert free.allowed_ids is None and free.text != "search[<your query>]"
    assert constrained.text in results and constrained.allowed_ids is not None

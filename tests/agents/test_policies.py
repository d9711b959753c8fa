"""The LM policy layer: shipped tokenizer, seeded decoding loop, constrained decoding, scoring, LoRA."""

from __future__ import annotations

import importlib.util
import json
import math
import random
import sys
import warnings
from pathlib import Path

import gymnasium
import pytest
import torch

pytest.importorskip("transformers")

import turngym.envs  # noqa: E402,F401  (registers the turngym/... ids)
from turngym.agents.llm.policies import (  # noqa: E402
    AllowedTokens,
    Generation,
    LMPolicy,
    TextPolicy,
    build_policy,
    build_token_trie,
    find_stop,
    forward_logprobs,
    load_tiny_tokenizer,
    make_tiny_model,
    plan_batches,
    sanitize_text,
    tiny_config,
)
from turngym.agents.llm.policies.lm import cache_argument  # noqa: E402
from turngym.envs.core.errors import ConfigError  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
ASSETS = REPO / "agents" / "llm" / "policies" / "assets"


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


pytestmark = pytest.mark.usefixtures("one_thread")  # fixtures: tests/agents/conftest.py


def policy(model, tokenizer, **kw) -> LMPolicy:
    kw.setdefault("max_new_tokens", 8)
    kw.setdefault("device", "cpu")
    return LMPolicy(model, tokenizer, **kw)


def recomputed(pol: LMPolicy, gen: Generation, temperature: float) -> torch.Tensor:
    """The trainer's recomputation of ``gen.logprobs``: log p, or log q under the recorded allowed sets."""
    ids = torch.tensor([gen.prompt_ids + gen.completion_ids])
    allowed = AllowedTokens.from_completions([len(gen.prompt_ids)], [gen.allowed_ids])
    with torch.no_grad():
        logp, _ = forward_logprobs(pol.model, ids, torch.ones_like(ids), temperature=temperature, allowed=allowed)
    return logp[0, len(gen.prompt_ids):]


def load_script():
    path = REPO / "scripts" / "make_tiny_tokenizer.py"
    spec = importlib.util.spec_from_file_location("make_tiny_tokenizer", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------------ tokenizer
def test_tokenizer_special_tokens_and_size(tokenizer):
    assert 1500 <= len(tokenizer) <= 2100
    assert tokenizer.pad_token == "<|pad|>" and tokenizer.pad_token_id == 0
    assert tokenizer.eos_token == "<|endoftext|>" and tokenizer.eos_token_id == 1
    assert tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"]) == [2, 3]
    assert tokenizer.padding_side == "left"
    # Special tokens are single ids, never split into bytes.
    assert tokenizer("<|im_start|>user\nhi<|im_end|>", add_special_tokens=False)["input_ids"][0] == 2


@pytest.mark.parametrize("text", [
    "", " ", "hello world", "  leading and trailing  ", "tabs\tand\nnewlines\r\n", "Q♥ J♠ K♦ 10♣",
    "日本語のテキスト", "emoji 🤖🎲 and ZWJ 👩‍💻", "\x00\x01\x7f NUL and control", "a" * 5000,
    '<tool_call>\n{"name": "search", "arguments": {"query": "Tretraeltora"}}\n</tool_call>',
    bytes(range(256)).decode("latin-1"),
])
def test_tokenizer_round_trips(tokenizer, text):
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert all(0 <= i < len(tokenizer) for i in ids)
    assert tokenizer.decode(ids, skip_special_tokens=True) == text


def test_tokenizer_round_trips_random_binary(tokenizer):
    rng = random.Random(0)
    for _ in range(20):
        junk = bytes(rng.randrange(256) for _ in range(200)).decode("utf-8", errors="surrogateescape")
        clean = sanitize_text(junk)  # lone surrogates -> "?"; everything else survives
        assert clean.encode("utf-8")
        ids = tokenizer(clean, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == clean


def test_tokenizer_is_compact_on_suite_text(tokenizer):
    env = gymnasium.make("turngym/LeducHoldem-v0", obs_mode="text")
    obs, _ = env.reset(seed=0)
    # Trained on these observations: far fewer tokens than bytes.
    assert len(tokenizer(obs)["input_ids"]) < len(obs.encode("utf-8")) / 3


def test_chat_template_format(tokenizer, model):
    msgs = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert text == ("<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
                    "<|im_start|>assistant\n")
    pol = policy(model, tokenizer, system_prompt="be brief")
    assert tokenizer.decode(pol.encode_prompt(user("hi"))) == text
    # A conversation that starts with its own system message gets no second one.
    assert pol.encode_prompt(msgs) == pol.encode_prompt(user("hi"))


def test_prompt_fallback_without_chat_template(model):
    tok = load_tiny_tokenizer()
    tok.chat_template = None
    pol = policy(model, tok)
    assert tok.decode(pol.encode_prompt(user("hi"))) == "user: hi\nassistant: "


def test_asset_matches_script_and_corpus_is_deterministic():
    script = load_script()
    cfg = json.loads((ASSETS / "tiny_tokenizer_config.json").read_text(encoding="utf-8"))
    assert cfg == json.loads(json.dumps(script.tokenizer_config()))
    a = script.build_corpus(episodes_per_config=1, card_hands=2, seed=3)
    b = script.build_corpus(episodes_per_config=1, card_hands=2, seed=3)
    assert a == b and len(a) == 18 + 4
    assert any("<tool_call>" in t for t in a) and any("Leduc" in t for t in a)
    assert script.build_corpus(episodes_per_config=1, card_hands=2, seed=4) != a
    tok_a, tok_b = script.train_tokenizer(a, 400), script.train_tokenizer(b, 400)
    assert tok_a.to_str() == tok_b.to_str()
    assert [tok_a.token_to_id(t) for t in script.SPECIAL_TOKENS] == [0, 1, 2, 3]


# ------------------------------------------------------------------------------------------ tiny model
def test_tiny_config_and_model_seeding(tokenizer):
    cfg = tiny_config(len(tokenizer), num_hidden_layers=2)
    shape = (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads)
    assert shape == (128, 2, 4, 2) and cfg.intermediate_size == 512
    assert cfg.tie_word_embeddings and cfg.max_position_embeddings == 4096
    assert cfg.rope_parameters["rope_theta"] == 10000.0
    state = torch.random.get_rng_state()
    a, b, c = make_tiny_model(seed=1), make_tiny_model(seed=1), make_tiny_model(seed=2)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG was not touched
    wa, wb, wc = (m.model.layers[0].self_attn.q_proj.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert a.config.vocab_size == len(tokenizer) and a.config.pad_token_id == tokenizer.pad_token_id


def test_build_policy_tiny_and_protocol():
    pol = build_policy("tiny", seed=0, device="cpu", max_new_tokens=3, temperature=0.5)
    assert isinstance(pol, TextPolicy)
    assert pol.temperature == 0.5 and pol.dtype == torch.float32 and pol.device.type == "cpu"
    assert pol.eos_ids == {1, 3}


def test_build_policy_from_saved_directory(tmp_path, model, tokenizer):
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded = build_policy(str(tmp_path), seed=3, device="cpu", temperature=0.0, max_new_tokens=5)
    reference = policy(model, tokenizer, temperature=0.0, max_new_tokens=5)
    prompt = [user("Your card: K")]
    assert loaded.encode_prompt(prompt[0]) == reference.encode_prompt(prompt[0])  # chat template survived
    assert loaded.generate(prompt)[0].completion_ids == reference.generate(prompt)[0].completion_ids
    assert loaded.seed == 3


# ------------------------------------------------------------------------------------------ generate
def test_same_seed_same_samples_and_rng_state_resumes(model, tokenizer):
    prompts = [user("Your card: Q"), user("Legal actions: call, raise.")]
    a = policy(model, tokenizer, seed=7).generate(prompts)
    b = policy(model, tokenizer, seed=7).generate(prompts)
    c = policy(model, tokenizer, seed=8).generate(prompts)
    assert [g.completion_ids for g in a] == [g.completion_ids for g in b]
    assert [g.completion_ids for g in a] != [g.completion_ids for g in c]
    pol = policy(model, tokenizer, seed=7)
    state = pol.rng_state()
    first = pol.generate(prompts)
    second = pol.generate(prompts)
    assert [g.completion_ids for g in first] != [g.completion_ids for g in second]  # the stream advanced
    pol.set_rng_state(state)
    assert [g.completion_ids for g in pol.generate(prompts)] == [g.completion_ids for g in first]


def test_generate_leaves_global_rng_alone(model, tokenizer):
    state = torch.random.get_rng_state()
    policy(model, tokenizer).generate([user("x")])
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.parametrize("temperature,top_p", [(1.0, 1.0), (0.7, 1.0), (1.6, 0.9), (0.0, 1.0)])
def test_recorded_logprobs_match_forward_logprobs(model, tokenizer, temperature, top_p):
    prompts = [user("hi"), user("call raise fold " * 60), user(""), user("Q♥ " * 15)]
    pol = policy(model, tokenizer, temperature=temperature, top_p=top_p, max_new_tokens=12, seed=3)
    gens = pol.generate(prompts)
    assert len({len(g.prompt_ids) for g in gens}) == 4  # very different lengths: real left padding
    scored_at = temperature if temperature > 0 else 1.0
    for g in gens:
        assert len(g.logprobs) == len(g.completion_ids) > 0
        assert torch.allclose(torch.tensor(g.logprobs), recomputed(pol, g, scored_at), atol=1e-4)
        assert all(lp <= 0 for lp in g.logprobs)
    # The same completions padded together in one batch give the same per-token log-probs.
    seqs = [g.prompt_ids + g.completion_ids for g in gens]
    width = max(map(len, seqs))
    ids = torch.tensor([[0] * (width - len(s)) + s for s in seqs])
    mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs])
    with torch.no_grad():
        logp, _ = forward_logprobs(pol.model, ids, mask, temperature=scored_at)
    for i, g in enumerate(gens):
        n = len(g.completion_ids)
        assert torch.allclose(logp[i, width - n:], torch.tensor(g.logprobs), atol=1e-4)


def test_greedy_batched_equals_one_at_a_time(model, tokenizer):
    prompts = [user("a"), user("Leduc hold'em. " * 20), user("Question: who founded it?"), user("")]
    pol = policy(model, tokenizer, temperature=0.0, max_new_tokens=10)
    batched = pol.generate(prompts)
    single = [pol.generate([p])[0] for p in prompts]
    assert [g.completion_ids for g in batched] == [g.completion_ids for g in single]
    pol.batch_size = 3  # sub-batching changes nothing either
    assert [g.completion_ids for g in pol.generate(prompts)] == [g.completion_ids for g in single]
    # Greedy = argmax: each token is the argmax of the recomputed distribution.
    g = single[1]
    ids = torch.tensor([g.prompt_ids + g.completion_ids])
    with torch.no_grad():
        logits = pol.model(input_ids=ids).logits[0]
    p = len(g.prompt_ids)
    assert logits[p - 1: p - 1 + len(g.completion_ids)].argmax(-1).tolist() == g.completion_ids


def test_tiny_top_p_is_greedy(model, tokenizer):
    prompts = [user("one"), user("two two")]
    greedy = policy(model, tokenizer, temperature=0.0).generate(prompts)
    nucleus = policy(model, tokenizer, temperature=1.0, top_p=1e-9, seed=5).generate(prompts)
    assert [g.completion_ids for g in nucleus] == [g.completion_ids for g in greedy]
    for a, b in zip(nucleus, greedy, strict=True):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-5)


def test_max_new_tokens_gives_length(model, tokenizer):
    gens = policy(model, tokenizer, max_new_tokens=5, seed=1).generate([user("x"), user("y" * 300)])
    for g in gens:
        if g.finish_reason == "length":
            assert len(g.completion_ids) == 5 == len(g.logprobs)
        else:  # an eos was sampled early (rare on 2048 tokens)
            assert g.finish_reason == "stop" and g.completion_ids[-1] in {1, 3}
    assert any(g.finish_reason == "length" for g in gens)
    assert policy(model, tokenizer, max_new_tokens=0).generate([user("x")])[0].completion_ids == []


def test_eos_ends_row_and_is_kept(tokenizer):
    model = make_tiny_model(seed=0)
    with torch.no_grad():  # make <|im_end|> overwhelmingly likely after any context
        model.lm_head.weight[3] = model.model.norm.weight.sign() * 5
        model.model.embed_tokens.weight.data = model.lm_head.weight.data
    g = policy(model, tokenizer, temperature=0.0, max_new_tokens=8).generate([user("x")])[0]
    assert g.completion_ids == [3] and g.finish_reason == "stop" and g.text == ""


def test_plan_batches_bounds_rows_tokens_and_padding():
    assert plan_batches([5, 9, 7], batch_size=64, max_tokens=1000) == [[1, 2, 0]]
    assert plan_batches([5] * 5, batch_size=2, max_tokens=1000) == [[0, 1], [2, 3], [4]]
    assert plan_batches([10] * 4, batch_size=64, max_tokens=25) == [[0, 1], [2, 3]]
    assert plan_batches([3000], batch_size=64, max_tokens=100) == [[0]]  # too long alone: still scheduled
    # One long prompt does not pad many short ones: it shares with at most a few.
    batches = plan_batches([4000] + [20] * 10, batch_size=64, max_tokens=10**6)
    assert batches[0][0] == 0 and len(batches[0]) <= 2 and sorted(sum(batches, [])) == list(range(11))
    assert plan_batches([], batch_size=4, max_tokens=10) == []


def test_find_stop_helper():
    assert find_stop("abc</answer>tail", ["</answer>"]) == len("abc</answer>")
    assert find_stop("no stop here", ["</answer>", "x"]) is None
    assert find_stop("xx END yy STOP", ["STOP", "END"]) == len("xx END")  # earliest end wins
    assert find_stop("abcdef", ["cdef", "bc"]) == 3
    assert find_stop("anything", [""]) is None


def test_stop_strings_cut_generation(model, tokenizer):
    prompts = [user("Tools: search, open. Question?")]
    cut_cases = 0
    for seed in range(6):
        full = policy(model, tokenizer, seed=seed, max_new_tokens=24).generate(prompts)[0]
        text = full.text
        candidates = [text[i:i + 2] for i in range(4, len(text) - 2)
                      if text[i:i + 2].isascii() and text[i:i + 2].strip()]
        if not candidates:
            continue
        stop = candidates[len(candidates) // 2]
        stopping = policy(model, tokenizer, seed=seed, max_new_tokens=24, stop=[stop, "NEVER-APPEARS"])
        g = stopping.generate(prompts)[0]
        end = find_stop(text, [stop])
        assert g.finish_reason == "stop"
        assert g.text == text[:end] and g.text.endswith(stop)
        # Same seed, same draws: the tokens are the uncut run's prefix, ending at the completing token.
        assert g.completion_ids == full.completion_ids[:len(g.completion_ids)]
        assert g.logprobs == full.logprobs[:len(g.completion_ids)]
        assert stop not in tokenizer.decode(g.completion_ids[:-1])
        assert tokenizer.decode(g.completion_ids).startswith(g.text)
        cut_cases += 1
    assert cut_cases >= 4


@pytest.mark.parametrize("choices", [
    ["call", "check", "raise", "fold"], ["a", "ab"], ["ab", "ab ab"], ["c", "ca", "check", "call"],
    ["pass", "bet"], ["<answer>42</answer>", "<answer>4</answer>", "Q♥ raise"], ["", "x"],
])
def test_constrained_decoding_returns_admissible(model, tokenizer, choices):
    prompts = [user(f"pick one {i}") for i in range(8)]
    seen = set()
    for seed in range(6):
        # max_new_tokens=1 is shorter than some choices: constrained rows ignore the cap.
        pol = policy(model, tokenizer, seed=seed, temperature=1.5, max_new_tokens=1)
        gens = pol.generate(prompts, admissible=[choices] * len(prompts))
        for g in gens:
            assert g.text in choices and g.finish_reason == "constrained"
            body = [t for t in g.completion_ids if t not in pol.eos_ids]
            assert tokenizer.decode(body) == g.text
            # Recorded log-probs are those of the restricted q that sampled them (issue 13, item 6).
            assert g.allowed_ids is not None and len(g.allowed_ids) == len(g.completion_ids)
            assert torch.allclose(torch.tensor(g.logprobs), recomputed(pol, g, 1.5), atol=1e-5)
            seen.add(g.text)
    assert len(seen) >= 2  # more than one admissible string is reachable


def test_constrained_prefix_string_can_end_with_eos(model, tokenizer):
    pol = policy(model, tokenizer, temperature=1.0)
    trie = build_token_trie(tokenizer, ["ab", "ab ab"])
    (child,) = trie.children.values()
    assert child.value == "ab" and child.children  # a complete string that a longer one continues
    gens = pol.generate([user(str(i)) for i in range(40)], admissible=[["ab", "ab ab"]] * 40)
    short = [g for g in gens if g.text == "ab"]
    assert short and all(g.completion_ids[-1] in pol.eos_ids for g in short)
    assert any(g.text == "ab ab" for g in gens)


def test_mixed_constrained_and_free_rows(model, tokenizer):
    pol = policy(model, tokenizer, max_new_tokens=6, seed=2)
    gens = pol.generate([user("a"), user("b"), user("c")], admissible=[["fold", "call"], None, []])
    assert gens[0].text in ("fold", "call") and gens[0].finish_reason == "constrained"
    assert gens[1].finish_reason in ("length", "stop") and gens[2].finish_reason in ("length", "stop")
    with pytest.raises(ValueError):
        pol.generate([user("a")], admissible=[None, None])


# ------------------------------------------------------------------------------------------ score / logprobs
def test_score_equals_manual_forward_logprobs(model, tokenizer):
    pol = policy(model, tokenizer)
    prompts = [user("Question: who?"), user("long " * 80), user("")]
    conts = ["<answer>Shocouv Shiferk</answer>", "42", "x"]
    scores = pol.score(prompts, conts)
    for p, c, s in zip(prompts, conts, scores, strict=True):
        cont = tokenizer(c, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([pol.encode_prompt(p) + cont])
        with torch.no_grad():
            logp, _ = forward_logprobs(pol.model, ids, torch.ones_like(ids))
        assert s == pytest.approx(logp[0, -len(cont):].mean().item(), abs=1e-4)
    assert pol.score([user("q")], [""]) == [0.0]
    # A continuation the model was pushed towards scores higher than one it was not.
    gen = policy(model, tokenizer, temperature=0.0, max_new_tokens=6).generate([user("q")])[0]
    assert pol.score([user("q")], [gen.text])[0] > pol.score([user("q")], ["zzzz qqqq"])[0]


def test_forward_logprobs_entropy_hidden_and_padding(model, tokenizer):
    ids = torch.tensor([[0, 0, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14]])
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    logp, ent, hidden = forward_logprobs(model, ids, mask, with_entropy=True, return_hidden=True)
    assert logp.shape == ent.shape == (2, 6) and hidden.shape == (2, 6, 128)
    assert torch.all(logp[0, :3] == 0) and torch.all(logp[:, 0] == 0) and torch.all(ent[0, :3] == 0)
    with torch.no_grad():
        logits = model(input_ids=ids[1:]).logits[0].float()
    dist = torch.log_softmax(logits, -1)
    assert torch.allclose(logp[1, 1:], dist[:-1].gather(-1, ids[1, 1:, None]).squeeze(-1), atol=1e-5)
    assert torch.allclose(ent[1, 1:], -(dist.exp() * dist).sum(-1)[:-1], atol=1e-5)
    assert torch.allclose(model.lm_head(hidden[1]), logits, atol=1e-4)  # final (normed) hidden state
    # Unpadded row 0 alone agrees with its left-padded version.
    alone, _ = forward_logprobs(model, ids[:1, 2:], mask[:1, 2:])
    assert torch.allclose(alone[0, 1:], logp[0, 3:], atol=1e-5)
    # Gradients flow.
    logp.sum().backward()
    assert model.lm_head.weight.grad is not None
    model.zero_grad(set_to_none=True)


@pytest.mark.parametrize("constrained", [False, True])
def test_score_mask_gives_the_same_logprobs_entropy_and_gradients_at_the_scored_tokens(model, constrained):
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(2, 2000, (4, 24), generator=gen)
    attn = torch.ones_like(ids)
    attn[1, 20:] = 0
    attn[3, 15:] = 0
    wanted = torch.zeros_like(ids, dtype=torch.bool)
    wanted[:, 12:17] = True
    wanted[0, 21:] = True
    wanted &= attn.bool()
    allowed = None
    if constrained:
        allowed = AllowedTokens(torch.tensor([0, 2]), torch.tensor([13, 16]),
                                torch.tensor([[int(ids[0, 13]), 5, 7], [int(ids[2, 16]), 9, -1]]))
    full = forward_logprobs(model, ids, attn, temperature=0.7, with_entropy=True, allowed=allowed)
    grad_full = torch.autograd.grad((full[0] * wanted).sum(), model.lm_head.weight)[0]
    part = forward_logprobs(model, ids, attn, temperature=0.7, with_entropy=True, allowed=allowed,
                            score_mask=wanted)
    grad_part = torch.autograd.grad(part[0].sum(), model.lm_head.weight)[0]
    assert torch.allclose(part[0], full[0] * wanted, atol=1e-6)
    assert torch.allclose(part[1], full[1] * wanted, atol=1e-6)
    assert torch.all(part[0][~wanted] == 0) and torch.all(part[1][~wanted] == 0)
    assert torch.allclose(grad_part, grad_full, atol=1e-6)
    if constrained:  # a constrained position outside the mask cannot be scored as log q: refused
        with pytest.raises(ValueError, match="score_mask must cover"):
            forward_logprobs(model, ids, attn, allowed=allowed, score_mask=wanted & (torch.arange(24) != 13))


# ------------------------------------------------------------------------------------------ act / env
def test_act_constrained_on_leduc(model, tokenizer):
    pol = policy(model, tokenizer, constrain=True, seed=4)
    env = gymnasium.make("turngym/LeducHoldem-v0", obs_mode="text")
    actions_taken = set()
    for episode in range(4):
        obs, info = env.reset(seed=episode)
        done = False
        while not done:
            (action,) = pol.act([obs], [info])
            assert action in info["admissible_actions"]
            actions_taken.add(action)
            obs, _, terminated, truncated, info = env.step(action)
            assert info["action_valid"]
            done = terminated or truncated
    assert len(actions_taken) >= 2


def test_act_unconstrained_returns_text(model, tokenizer):
    out = policy(model, tokenizer, max_new_tokens=3).act(["obs one", {"not": "text"}], [{}, {}])
    assert len(out) == 2 and all(isinstance(a, str) for a in out)


# ------------------------------------------------------------------------------ transformers cache API
def _deprecations(caught: list[warnings.WarningMessage]) -> list[str]:
    return [f"{w.category.__name__}: {w.message}" for w in caught
            if issubclass(w.category, DeprecationWarning | FutureWarning)]


@pytest.mark.parametrize("lora", [False, True])
def test_generation_and_scoring_use_the_current_cache_api(tokenizer, lora):
    """Item 14: no deprecation warning (transformers 5.x renamed ``past_key_values`` to ``cache``), and the
    cached decoding still records exactly the log-probs of a forward pass without any cache."""
    pol = LMPolicy(make_tiny_model(seed=0), tokenizer, device="cpu", max_new_tokens=10, seed=4)
    if lora:
        pol.with_lora(r=4)  # outside the check: peft itself touches a deprecated transformers property
    prompts = [user("hi"), user("call raise fold " * 20), user("Q♥")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gens = pol.generate(prompts) + pol.generate(prompts, admissible=[["call", "fold"], None, ["raise"]])
        scores = pol.score(prompts, ["<answer>x</answer>", "call", "fold"])
    assert _deprecations(caught) == []
    for g in gens:
        assert torch.allclose(torch.tensor(g.logprobs), recomputed(pol, g, 1.0), atol=1e-4)
    assert all(math.isfinite(s) and s < 0 for s in scores)


class LegacyCacheKeyword(torch.nn.Module):
    """A causal LM whose forward still takes the cache as ``past_key_values`` (transformers before the rename)."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner
        self.config = inner.config
        self.generation_config = inner.generation_config

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None,
                use_cache=None, logits_to_keep=0):
        return self.inner(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                          cache=past_key_values, use_cache=use_cache, logits_to_keep=logits_to_keep)


def test_cache_keyword_follows_the_model_signature(model, tokenizer):
    assert cache_argument(model) == "cache"
    legacy = LegacyCacheKeyword(model)
    assert cache_argument(legacy) == "past_key_values"
    prompts = [user("Your card: K"), user("Legal actions: call, raise. " * 5)]
    new = policy(model, tokenizer, seed=9, max_new_tokens=10).generate(prompts)
    old = policy(legacy, tokenizer, seed=9, max_new_tokens=10).generate(prompts)
    assert [g.completion_ids for g in old] == [g.completion_ids for g in new]
    for a, b in zip(old, new, strict=True):
        assert torch.allclose(torch.tensor(a.logprobs), torch.tensor(b.logprobs), atol=1e-6)


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"temperature": math.nan}, "temperature"),
    ({"temperature": math.inf}, "temperature"),
    ({"top_p": math.nan}, "top_p"),
    ({"max_new_tokens": math.nan}, "max_new_tokens"),
    ({"batch_size": 0}, "batch_size"),
])
def test_bad_sampling_settings_are_config_errors(model, tokenizer, kwargs, named):
    with pytest.raises(ConfigError, match=named):
        policy(model, tokenizer, **kwargs)


@pytest.mark.parametrize("name", ["/nonexistent", "./no/such/model", "not a model id"])
def test_unloadable_model_name_is_a_config_error(tmp_path, name):
    with pytest.raises(ConfigError, match="model.name"):
        build_policy(name, device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="model.name"):  # a folder without config.json or tokenizer
        build_policy(str(tmp_path / "empty"), device="cpu")


# ------------------------------------------------------------------------------------------ LoRA
def test_lora_trains_only_adapters(tokenizer):
    pol = LMPolicy(make_tiny_model(seed=0), tokenizer, device="cpu", max_new_tokens=4)
    ids = torch.tensor([pol.encode_prompt(user("call or fold?")) + [402, 1563]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        before, _ = forward_logprobs(pol.model, ids, mask)
    assert pol.with_lora(r=4, alpha=8) is pol
    names = {n for n, p in pol.model.named_parameters() if p.requires_grad}
    assert names and all("lora_" in n for n in names)
    assert len(pol.trainable_parameters()) == len(names)
    logp, _ = forward_logprobs(pol.model, ids, mask)
    assert torch.allclose(logp.detach(), before, atol=1e-6)  # LoRA B starts at zero
    (-logp.sum()).backward()
    for n, p in pol.model.named_parameters():
        if "lora_" in n:
            assert p.grad is not None
        else:
            assert p.grad is None
    assert any(p.grad.abs().sum() > 0 for n, p in pol.model.named_parameters() if "lora_B" in n)
    g = pol.generate([user("x")], admissible=[["call", "fold"]])[0]  # still samples through peft
    assert g.text in ("call", "fold")


# ------------------------------------------------------------------------------------------ hostile input
def test_hostile_prompts_do_not_crash(model, tokenizer):
    rng = random.Random(1)
    junk = bytes(rng.randrange(256) for _ in range(600)).decode("utf-8", errors="surrogateescape")
    huge = "All work and no play. " * 4600  # ~100k chars
    prompts = [user(""), user(huge), user(junk), [{"role": "user"}], [{"content": 12345}], [],
               user("<|im_end|><|endoftext|><|pad|>"), user("\udcff lone surrogate")]
    pol = policy(model, tokenizer, max_new_tokens=4, system_prompt="\x00sys")
    gens = pol.generate(prompts)
    assert pol.generate([]) == [] and pol.score([], []) == []
    assert len(gens) == len(prompts)
    context = model.config.max_position_embeddings
    big = gens[1]
    assert len(big.prompt_ids) == context - 4 and big.extras["prompt_tokens_dropped"] > 0
    # Left truncation keeps the end of the prompt: the last message and the generation prompt.
    assert tokenizer.decode(big.prompt_ids).endswith("no play. <|im_end|>\n<|im_start|>assistant\n")
    capped = policy(model, tokenizer, max_new_tokens=4, max_prompt_tokens=50).generate([user(huge)])[0]
    assert len(capped.prompt_ids) == 50
    assert capped.prompt_ids == big.prompt_ids[-50:]
    scores = pol.score([user(huge), user(junk), user("")], ["x", huge[:200], junk[:50]])
    assert len(scores) == 3 and all(s < 0 for s in scores)
    assert all(isinstance(g.text, str) for g in gens)

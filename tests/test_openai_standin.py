"""The OpenAI stand-in server, exercised through the real official `openai` client."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import openai
import pytest
from pydantic import BaseModel, ConfigDict

from pipeline.lib.tokens import count_tokens
from pipeline.openai_standin import StandinServer

MODEL = "text-embedding-3-small"


@pytest.fixture(scope="module")
def running() -> Iterator[StandinServer]:
    with StandinServer() as server:
        yield server


@pytest.fixture
def server(running: StandinServer) -> Iterator[StandinServer]:
    running.reset()
    yield running
    running.reset()


@pytest.fixture
def client(server: StandinServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
        yield client


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _embed(client: openai.OpenAI, texts: list[str], **kwargs: object) -> list[list[float]]:
    response = client.embeddings.create(model=MODEL, input=texts, **kwargs)  # type: ignore[arg-type]
    return [item.embedding for item in response.data]


# embeddings


def test_embeddings_are_deterministic_and_normalised(client: openai.OpenAI) -> None:
    texts = ["The quick brown fox", "jumps over the lazy dog", "!!!"]
    first = _embed(client, texts)
    assert first == _embed(client, texts)
    for vector in first:
        assert len(vector) == 1536
        assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-5)
    large = client.embeddings.create(model="text-embedding-3-large", input="hello")
    assert len(large.data[0].embedding) == 3072


def test_default_base64_matches_float(client: openai.OpenAI, server: StandinServer) -> None:
    texts = ["alpha beta", "gamma"]
    from_base64 = _embed(client, texts)
    assert server.requests[-1].body["encoding_format"] == "base64"  # the client's default
    from_float = _embed(client, texts, encoding_format="float")
    assert from_base64 == from_float


@pytest.mark.parametrize("dimensions", [1536, 7])  # rows of 3k bytes are base64-encoded in one call
def test_a_vector_does_not_depend_on_the_rest_of_the_request(
    client: openai.OpenAI, server: StandinServer, dimensions: int
) -> None:
    server.dense_vectors = True
    texts = [f"dish {i} with smoked mozzarella" for i in range(40)] + ["!!!", "a a"]
    batch = _embed(client, texts, dimensions=dimensions)
    assert len({tuple(v) for v in batch}) == len(texts)
    for i in (0, 17, 40, 41):
        assert batch[i] == _embed(client, [texts[i]], dimensions=dimensions)[0]


def test_dimensions_are_honoured(client: openai.OpenAI) -> None:
    (vector,) = _embed(client, ["shorter vectors please"], dimensions=256)
    assert len(vector) == 256
    assert math.isclose(sum(v * v for v in vector), 1.0, rel_tol=1e-5)
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="text-embedding-ada-002", input="x", dimensions=256)


def test_similar_texts_score_higher_than_unrelated_ones(client: openai.OpenAI) -> None:
    query, similar, unrelated = _embed(
        client,
        [
            "how do I reset my account password",
            "reset the password of my account",
            "quarterly revenue grew in the european market",
        ],
    )
    assert _cosine(query, similar) > 0.3
    assert _cosine(query, similar) > _cosine(query, unrelated) + 0.2


def test_dense_vectors_fill_every_dimension_and_keep_similar_texts_near(
    client: openai.OpenAI, server: StandinServer
) -> None:
    texts = [
        "grilled salmon with lemon butter",
        "salmon grilled with lemon and butter",
        "late checkout policy",
    ]
    sparse = _embed(client, texts)
    server.dense_vectors = True  # what the storage benchmarks use: OpenAI's vectors have no zero components
    query, similar, unrelated = dense = _embed(client, texts)

    assert all(np.count_nonzero(v) < 100 for v in sparse)
    assert all(np.count_nonzero(v) == len(v) for v in dense)
    assert all(abs(np.linalg.norm(v) - 1) < 1e-5 for v in dense)
    assert dense[0] == _embed(client, texts[:1])[0]  # still deterministic
    assert _cosine(query, similar) > _cosine(query, unrelated) + 0.2


def test_usage_counts_tokens_like_tiktoken(client: openai.OpenAI) -> None:
    texts = ["Tokens are counted exactly.", "Ünïcödé and emoji 🚀 too"]
    response = client.embeddings.create(model=MODEL, input=texts)
    expected = sum(count_tokens(text, MODEL) for text in texts)
    assert response.usage.prompt_tokens == response.usage.total_tokens == expected


def test_token_array_inputs_count_their_tokens(client: openai.OpenAI) -> None:
    response = client.embeddings.create(model=MODEL, input=[[1, 2, 3], [4, 5]])
    assert [item.index for item in response.data] == [0, 1]
    assert response.usage.prompt_tokens == 5


@pytest.mark.parametrize("bad_input", ["", ["ok", ""], ["x"] * 2049])
def test_invalid_inputs_are_rejected(client: openai.OpenAI, bad_input: object) -> None:
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=MODEL, input=bad_input)  # type: ignore[arg-type]


def test_poisoned_input_is_rejected_naming_its_index(client: openai.OpenAI, server: StandinServer) -> None:
    server.poison("POISON")
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=MODEL, input=["fine", "has POISON inside", "fine too"])
    assert caught.value.param == "input[1]"
    assert "index 1" in caught.value.message
    assert client.embeddings.create(model=MODEL, input=["fine", "fine too"]).data


# faults


def test_rate_limit_fault(client: openai.OpenAI, server: StandinServer) -> None:
    server.inject("rate_limit", retry_after=7)
    with pytest.raises(openai.RateLimitError) as caught:
        client.embeddings.create(model=MODEL, input="x")
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.type == "requests"
    assert caught.value.response.headers["Retry-After"] == "7"
    assert caught.value.response.headers["retry-after-ms"] == "7000"
    assert caught.value.response.headers["x-ratelimit-limit-requests"]
    assert client.embeddings.create(model=MODEL, input="x").data  # the fault was consumed


@pytest.mark.parametrize(
    ("kind", "exception", "code"),
    [
        ("insufficient_quota", openai.RateLimitError, "insufficient_quota"),
        ("server_error", openai.InternalServerError, None),
        ("auth", openai.AuthenticationError, "invalid_api_key"),
    ],
)
def test_error_faults_raise_the_matching_exception(
    client: openai.OpenAI,
    server: StandinServer,
    kind: str,
    exception: type[openai.APIStatusError],
    code: str | None,
) -> None:
    server.inject(kind)
    with pytest.raises(exception) as caught:
        client.embeddings.create(model=MODEL, input="x")
    assert caught.value.code == code
    assert server.count(status=caught.value.status_code) == 1


def test_faults_are_consumed_in_fifo_order(client: openai.OpenAI, server: StandinServer) -> None:
    server.inject("server_error", times=2)
    server.inject("auth")
    for expected in (openai.InternalServerError, openai.InternalServerError, openai.AuthenticationError):
        with pytest.raises(expected):
            client.embeddings.create(model=MODEL, input="x")
    client.embeddings.create(model=MODEL, input="x")
    assert server.count() == 4
    assert server.count(status=500) == 2
    assert server.count(status=200) == 1


def test_timeout_fault_makes_the_client_time_out(client: openai.OpenAI, server: StandinServer) -> None:
    server.inject("timeout", seconds=2)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.5).embeddings.create(model=MODEL, input="x")
    assert time.monotonic() - started < 1.9


def test_latency_fault_delays_a_normal_answer(client: openai.OpenAI, server: StandinServer) -> None:
    server.inject("latency", seconds=0.3)
    started = time.monotonic()
    assert client.embeddings.create(model=MODEL, input="x").data
    assert time.monotonic() - started >= 0.3


def test_malformed_json_fault(client: openai.OpenAI, server: StandinServer) -> None:
    server.inject("malformed_json")
    # openai 3.x lets the decoder's error through rather than wrapping it in an openai exception.
    with pytest.raises((openai.OpenAIError, json.JSONDecodeError)):
        client.embeddings.create(model=MODEL, input="x")


def test_wrong_count_fault_returns_one_embedding_fewer(client: openai.OpenAI, server: StandinServer) -> None:
    server.inject("wrong_count")
    response = client.embeddings.create(model=MODEL, input=["a", "b", "c"])
    assert len(response.data) == 2


# rate limits


def test_rate_limit_headers_on_every_response(client: openai.OpenAI, server: StandinServer) -> None:
    raw = client.embeddings.with_raw_response.create(model=MODEL, input="x")
    for name in ("requests", "tokens"):
        assert int(raw.headers[f"x-ratelimit-limit-{name}"]) > 0
        assert int(raw.headers[f"x-ratelimit-remaining-{name}"]) > 0
        assert raw.headers[f"x-ratelimit-reset-{name}"].endswith("s")
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.list()
    assert "x-ratelimit-remaining-requests" in caught.value.response.headers


def test_rpm_limit_is_enforced() -> None:
    with (
        StandinServer(rpm_limit=2) as server,
        openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client,
    ):
        first = client.embeddings.with_raw_response.create(model=MODEL, input="x")
        assert first.headers["x-ratelimit-limit-requests"] == "2"
        assert first.headers["x-ratelimit-remaining-requests"] == "1"
        client.embeddings.create(model=MODEL, input="x")
        with pytest.raises(openai.RateLimitError) as caught:
            client.embeddings.create(model=MODEL, input="x")
        assert caught.value.code == "rate_limit_exceeded"
        assert 0 < float(caught.value.response.headers["Retry-After"]) <= 60
        assert server.count(status=429) == 1
        server.reset()  # also clears the window
        client.embeddings.create(model=MODEL, input="x")


def test_tpm_limit_is_enforced() -> None:
    with (
        StandinServer(tpm_limit=10) as server,
        openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client,
    ):
        client.embeddings.create(model=MODEL, input="one two three four five six")
        with pytest.raises(openai.RateLimitError) as caught:
            client.embeddings.create(model=MODEL, input="seven eight nine ten eleven twelve")
        assert caught.value.code == "rate_limit_exceeded"
        assert caught.value.type == "tokens"


# chat completions


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    label: str
    score: float
    tags: list[str]
    relevant: bool


class Classification(BaseModel):
    model_config = ConfigDict(extra="forbid")
    summary: str
    items: list[Item]


PROMPT = "Classify these support tickets:\n- key=t-101: refund\n- key=t-102: login broken\nkey=t-103 other\n"


def test_chat_json_schema_conforms_with_one_item_per_key(client: openai.OpenAI) -> None:
    schema = Classification.model_json_schema()
    response = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "You classify."}, {"role": "user", "content": PROMPT}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "classification", "schema": schema, "strict": True},
        },
    )
    content = response.choices[0].message.content
    assert content is not None
    parsed = Classification.model_validate_json(content)
    assert [item.key for item in parsed.items] == ["t-101", "t-102", "t-103"]
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None
    assert response.usage.completion_tokens == count_tokens(content, "gpt-4o-mini")
    # 3 tokens around each message, 3 priming the reply, and the schema, as the API bills structured output.
    schema_tokens = count_tokens(
        json.dumps({"name": "classification", "schema": schema, "strict": True}), "gpt-4o-mini"
    )
    expected = count_tokens("You classify.", "gpt-4o-mini") + count_tokens(PROMPT, "gpt-4o-mini") + 2 * 3 + 3
    assert response.usage.prompt_tokens == expected + schema_tokens


def test_chat_parse_with_a_pydantic_model(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}], response_format=Classification
    )
    parsed = completion.choices[0].message.parsed
    assert parsed is not None
    assert len(parsed.items) == 3


def test_chat_plain_answer_is_deterministic_and_capped(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "Tell me about pgvector indexes and embeddings for search."}]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]
    second = client.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]
    assert first.choices[0].message.content == second.choices[0].message.content
    assert "pgvector" in (first.choices[0].message.content or "")
    capped = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,  # type: ignore[arg-type]
        max_completion_tokens=3,
    )
    assert capped.choices[0].finish_reason == "length"
    assert capped.usage is not None
    assert 0 < capped.usage.completion_tokens <= 3


# server behaviour


def test_concurrent_requests_are_served_in_parallel(client: openai.OpenAI, server: StandinServer) -> None:
    server.latency = 0.3
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: _embed(client, [f"text {i}"]), range(8)))
    assert len(results) == 8
    assert time.monotonic() - started < 8 * 0.3 / 2
    assert server.count(status=200) == 8


def test_request_log_keeps_bodies_but_no_credentials(client: openai.OpenAI, server: StandinServer) -> None:
    client.embeddings.create(model=MODEL, input="logged")
    (record,) = server.requests
    assert record.path == "/v1/embeddings"
    assert record.status == 200
    assert record.body["input"] == "logged"
    assert "Bearer" not in repr(record)
    server.reset()
    assert server.requests == []

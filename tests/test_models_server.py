"""The fake OpenAI server and the scripted model that later tests and benchmarks reuse."""

from __future__ import annotations

import asyncio
import http.client
import json
import random
import subprocess
import sys
import threading
from typing import Any

import pytest

from vs_sim.errors import ProviderError
from vs_sim.models import Request
from vs_sim.testing import ScriptedModel, requested_k, vs_answer
from vs_sim.testing.scripted import listed_options
from vs_sim.testing.server import FakeOpenAIServer, Faults


def post(
    server: FakeOpenAIServer, content: str, *, timeout: float = 10.0
) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        body = json.dumps({"model": "fake", "messages": [{"role": "user", "content": content}]})
        conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("prompt", "k"),
    [
        ("Give 7 responses with probabilities.", 7),
        ("Generate 3 different candidates.", 3),
        ("Write 12 possible replies", 12),
        ("Answer the question.", 5),
    ],
)
def test_requested_k_reads_the_prompt(prompt: str, k: int) -> None:
    assert requested_k([{"role": "user", "content": prompt}]) == k


def test_vs_answer_is_well_formed_and_seeded() -> None:
    text = vs_answer(6, random.Random(3))
    responses = json.loads(text)["responses"]
    assert len(responses) == 6
    assert len({r["text"] for r in responses}) == 6
    assert sum(r["probability"] for r in responses) == pytest.approx(1.0, abs=0.03)
    assert vs_answer(6, random.Random(3)) == text
    assert vs_answer(6, random.Random(4)) != text


SURVEY_PROMPT = (
    "How worried are you about climate change?\n\n"
    "Answer with exactly one of the options below, written exactly as shown.\n"
    "Options:\n- Very worried\n- Somewhat worried\n- Not worried\n\n"
    "Give 5 responses with their probabilities."
)


def test_a_survey_question_is_answered_with_its_own_options() -> None:
    messages = [
        {"role": "system", "content": "Options:\n- not this"},
        {"role": "user", "content": SURVEY_PROMPT},
    ]
    options = listed_options(messages)
    assert options == ["Very worried", "Somewhat worried", "Not worried"]
    responses = json.loads(vs_answer(5, random.Random(1), options))["responses"]
    assert sorted(r["text"] for r in responses) == sorted(options)  # fewer options than k: all
    two = json.loads(vs_answer(2, random.Random(1), options))["responses"]
    assert len(two) == 2 and {r["text"] for r in two} <= set(options)
    assert listed_options([{"role": "user", "content": "Name a colour."}]) == []


@pytest.mark.http
def test_the_server_answers_a_survey_question_with_its_options(
    fake_openai_server: FakeOpenAIServer,
) -> None:
    status, _, payload = post(fake_openai_server, SURVEY_PROMPT)
    assert status == 200
    texts = {
        r["text"] for r in json.loads(payload["choices"][0]["message"]["content"])["responses"]
    }
    assert texts == {"Very worried", "Somewhat worried", "Not worried"}


@pytest.mark.http
def test_server_answers_vs_with_usage_and_lists_models(
    fake_openai_server: FakeOpenAIServer,
) -> None:
    status, _, payload = post(fake_openai_server, "Give 4 responses.")
    assert status == 200
    content = payload["choices"][0]["message"]["content"]
    assert len(json.loads(content)["responses"]) == 4
    usage = payload["usage"]
    assert usage["completion_tokens"] > 0 and usage["prompt_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert fake_openai_server.count == 1
    assert fake_openai_server.requests[0]["messages"][0]["content"] == "Give 4 responses."

    conn = http.client.HTTPConnection(fake_openai_server.host, fake_openai_server.port, timeout=10)
    try:
        conn.request("GET", "/v1/models")
        models = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    assert models["data"][0]["id"] == "fake"


@pytest.mark.http
def test_scripted_answers_and_errors_in_order(fake_openai_server: FakeOpenAIServer) -> None:
    fake_openai_server.enqueue("exact text")
    fake_openai_server.enqueue_error(429, retry_after=0.5)
    fake_openai_server.enqueue_error(503)
    first = post(fake_openai_server, "q")
    second = post(fake_openai_server, "q")
    third = post(fake_openai_server, "q")
    assert first[2]["choices"][0]["message"]["content"] == "exact text"
    assert second[0] == 429 and second[1]["Retry-After"] == "0.5"
    assert second[2]["error"]["type"] == "rate_limit_error"
    assert third[0] == 503
    assert post(fake_openai_server, "q")[0] == 200  # queue empty: back to VS answers


def fault_run(seed: int) -> list[str]:
    faults = Faults(rate_429=0.2, rate_500=0.2, rate_malformed=0.2, rate_truncated=0.2)
    outcomes = []
    with FakeOpenAIServer(faults=faults, seed=seed) as server:
        for i in range(30):
            status, _, payload = post(server, f"question {i % 7}")
            if status != 200:
                outcomes.append(str(status))
                continue
            choice = payload["choices"][0]
            try:
                json.loads(choice["message"]["content"])
                outcomes.append("ok")
            except ValueError:
                outcomes.append("bad-" + choice["finish_reason"])
    return outcomes


@pytest.mark.http
def test_faults_follow_their_rates_and_the_seed() -> None:
    first = fault_run(seed=1)
    assert fault_run(seed=1) == first
    assert fault_run(seed=2) != first
    assert {"429", "500", "ok", "bad-stop", "bad-length"} <= set(first)


@pytest.mark.http
def test_drop_closes_the_connection_without_an_answer(fake_openai_server: FakeOpenAIServer) -> None:
    fake_openai_server.enqueue_drop()
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        post(fake_openai_server, "q")
    assert post(fake_openai_server, "q")[0] == 200


@pytest.mark.http
def test_stop_releases_a_hanging_request() -> None:
    server = FakeOpenAIServer().start()
    server.enqueue_hang(600)
    outcome: list[object] = []

    def client() -> None:
        try:
            outcome.append(post(server, "q", timeout=300)[0])
        except (OSError, http.client.HTTPException) as error:
            outcome.append(error)

    thread = threading.Thread(target=client)
    thread.start()
    while server.count == 0:
        threading.Event().wait(0.01)
    server.stop()  # returns only after every handler finished and the sockets closed
    thread.join()
    assert outcome and outcome[0] != 200


@pytest.mark.http
def test_command_line_server_serves_until_terminated() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "vs_sim.testing.server", "--port", "0", "--latency", "0.01"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("serving http://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/v1/models")
            assert conn.getresponse().status == 200
        finally:
            conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == 0


def test_scripted_model_records_history_and_injects_failures() -> None:
    boom = ProviderError("injected", status=500)
    model = ScriptedModel(replies=["a"], fail=lambda call, req: boom if call == 1 else None)
    model.enqueue("b")
    req = Request(
        model="scripted/test", messages=({"role": "user", "content": "Give 3 responses"},)
    )

    async def work() -> list[object]:
        results: list[object] = [(await model.acomplete(req)).text]
        try:
            await model.acomplete(req)
        except ProviderError as error:
            results.append(error)
        results.append((await model.acomplete(req)).text)
        results.append((await model.acomplete(req)).text)
        return results

    first, second, third, fourth = asyncio.run(work())
    assert first == "a" and second is boom and third == "b"
    assert len(json.loads(str(fourth))["responses"]) == 3  # queue empty: a VS answer
    assert len(model.history) == 4 and model.history[0] is req

"""The pytest plugin, tested with pytester: record against a real local HTTP server, then
replay with that server gone (no key, no network), and fail clearly when a recording is
missing."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import httpx2
import pytest

from _eval_util import PROMPT
from promptops.regress.recording import Recordings, RecordReplayTransport, request_key
from promptops.testing.openai_server import FakeOpenAIServer

pytest_plugins = ["pytester"]

# Imported here, in the outer session, on purpose: pytester's in-process runs drop modules
# first imported inside them, and numpy (pulled in by the runner) cannot be loaded twice.
import promptops.regress.runner  # noqa: E402, F401

SECRET = "sk-test-never-stored-0123456789"

TEST_MODULE = """\
CASES = [
    {"id": "r1", "input": {"message": "refund: money back for my shoes"}, "expected": "refund"},
    {"id": "d1", "input": {"message": "delivery: where is my lamp"}, "expected": "delivery"},
    {"id": "p1", "input": {"message": "password: forgot my login"}, "expected": "password"},
    {"id": "p2", "input": {"message": "refund: reset my password"}, "expected": "password"},
]


def test_one_label(prompt_runner):
    result = prompt_runner.run("router", message="delivery: parcel late", case_id="parcel")
    assert result.label == "delivery"
    assert result.text == '{"label": "delivery"}'


def test_thresholds(prompt_runner):
    report = prompt_runner.evaluate("router", CASES)
    assert report.accuracy == 0.75, report.describe()
    assert [r.case_id for r in report.failures] == ["p2"]
    assert report.per_class["password"].recall == 0.5
"""

EXTRA_TEST = """

def test_a_new_case(prompt_runner):
    assert prompt_runner.run("router", message="refund: a new case", case_id="new-case").label
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.delenv("PROMPTOPS_RECORD", raising=False)
    pytester.makeini("[pytest]\n")
    (pytester.path / "prompts").mkdir()
    (pytester.path / "prompts" / "router.yaml").write_text(PROMPT, encoding="utf-8")
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_router.py").write_text(TEST_MODULE, encoding="utf-8")
    return pytester


def endpoint(server: FakeOpenAIServer) -> list[str]:
    return ["--promptops-base-url", server.base_url, "--promptops-model", "fake-model"]


def recordings_file(project: pytest.Pytester) -> Path:
    return project.path / "tests" / "recordings" / "test_router.jsonl"


def record(project: pytest.Pytester, server: FakeOpenAIServer) -> pytest.RunResult:
    result = project.runpytest("tests", "--promptops-record", *endpoint(server))
    result.assert_outcomes(passed=2)
    return result


def test_record_once_then_replay_with_the_server_gone(project: pytest.Pytester) -> None:
    with FakeOpenAIServer() as server:
        recorded = record(project, server)
        assert len(server.requests) == 5
        url = endpoint(server)
    assert "promptops: wrote 5 recorded response(s)" in recorded.stdout.str()
    text = recordings_file(project).read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 5 and [e["key"] for e in lines] == sorted(e["key"] for e in lines)
    for entry in lines:
        body = entry["request"]["body"]
        assert entry["key"] == request_key("POST", "/v1/chat/completions", body)
        assert body["model"] == "fake-model" and entry["response"]["status"] == 200
        assert entry["response"]["body"]["created"] == 0
    assert SECRET not in text and "authorization" not in text.lower()

    replayed = project.runpytest("tests", *url)  # the server is closed: nothing can answer
    replayed.assert_outcomes(passed=2)
    assert "wrote" not in replayed.stdout.str()


def test_a_missing_recording_fails_naming_prompt_case_and_command(
    project: pytest.Pytester,
) -> None:
    with FakeOpenAIServer() as server:
        record(project, server)
        module = project.path / "tests" / "test_router.py"
        module.write_text(TEST_MODULE + EXTRA_TEST, encoding="utf-8")
        before = len(server.requests)
        result = project.runpytest("tests", *endpoint(server))
        assert len(server.requests) == before  # replay never calls the endpoint
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    assert "no recorded response for prompt router@1.0.0" in out
    assert "case(s) 'new-case'" in out
    assert "test_router.jsonl" in out
    assert "pytest tests/test_router.py --promptops-record" in out
    assert "Traceback" not in out


def test_a_changed_prompt_needs_a_new_recording(project: pytest.Pytester) -> None:
    with FakeOpenAIServer() as server:
        record(project, server)
        url = endpoint(server)
    prompt = project.path / "prompts" / "router.yaml"
    prompt.write_text(PROMPT.replace("Pick one of", "Choose one of"), encoding="utf-8")
    result = project.runpytest("tests", *url)
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "case(s) 'parcel'" in out
    assert "case(s) 'd1', 'p1', 'p2', 'r1'" in out


def test_env_var_records_and_rerecording_is_byte_stable(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer() as server:
        record(project, server)
        first = recordings_file(project).read_bytes()
        recordings_file(project).unlink()
        monkeypatch.setenv("PROMPTOPS_RECORD", "1")
        project.runpytest("tests", *endpoint(server)).assert_outcomes(passed=2)
        assert len(server.requests) == 10
    assert recordings_file(project).read_bytes() == first


def test_the_key_ignores_json_key_order_and_headers() -> None:
    a = request_key("POST", "/v1/chat/completions", json.loads('{"a": 1, "b": [1, 2]}'))
    b = request_key("post", "/v1/chat/completions", json.loads('{"b": [1, 2], "a": 1}'))
    assert a == b
    assert a != request_key("POST", "/v1/chat/completions", {"a": 1, "b": [2, 1]})

    recordings = Recordings(Path("unused.jsonl"))
    transport = RecordReplayTransport(recordings, "replay")
    recordings.put(
        {
            "key": a,
            "request": {},
            "response": {"status": 200, "body": {"ok": True}},
        }
    )

    async def call(headers: dict[str, str]) -> httpx2.Response:
        async with httpx2.AsyncClient(transport=transport) as client:
            return await client.post(
                "http://anywhere.example/v1/chat/completions",
                content=b'{"b": [1, 2], "a": 1}',
                headers=headers,
            )

    import asyncio

    hit = asyncio.run(call({"Authorization": f"Bearer {SECRET}"}))
    assert hit.status_code == 200 and hit.json() == {"ok": True}
    assert asyncio.run(call({})).json() == {"ok": True}
    assert transport.misses == []


def test_record_mode_needs_a_real_transport() -> None:
    with pytest.raises(ValueError, match="real transport"):
        RecordReplayTransport(Recordings(Path("x.jsonl")), "record")


def test_a_corrupt_recordings_file_is_a_clear_error(tmp_path: Path) -> None:
    from promptops.errors import UserInputError

    path = tmp_path / "r.jsonl"
    path.write_text(textwrap.dedent('{"key": "k", "response": {}}\nnot json\n'))
    with pytest.raises(UserInputError, match=r"r\.jsonl:2"):
        Recordings.load(path)

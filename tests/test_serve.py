"""`promptops serve` over real HTTP: uvicorn on 127.0.0.1, a real client, the fake upstream."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from _serve_util import fake_server, make_serve_project, serving
from promptops.errors import ConfigError
from promptops.lifecycle import EvalOptions, run_eval
from promptops.serve import ServeConfig
from promptops.testing.openai_server import FakeOpenAIServer, FaultPlan


@pytest.fixture
def upstream() -> Iterator[FakeOpenAIServer]:
    with fake_server(hang_s=10.0) as srv:
        yield srv


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, upstream: FakeOpenAIServer) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    return make_serve_project(tmp_path, upstream.base_url)


def post(url: str, body: object, **kw: object) -> httpx2.Response:
    return httpx2.post(f"{url}/v1/predict", json=body, timeout=30, **kw)  # type: ignore[arg-type]


def log_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_predicts_with_identity_and_logs_one_line(project: Path) -> None:
    log = project / "serve.jsonl"
    with serving(ServeConfig(prompt="router", log=log)) as url:
        r = post(url, {"inputs": {"message": "delivery: where is my lamp"}, "request_id": "r-1"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["label"] == body["output"] == "delivery"
        assert 0 < body["confidence"] <= 1
        assert body["prompt"] == "router@1.0.0" and len(body["prompt_hash"]) == 64
        assert body["request_id"] == "r-1" and body["model"] == "fake-model"
        assert body["fallback"] is False and body["latency_ms"] > 0
        assert httpx2.get(f"{url}/healthz").status_code == 200
        ready = httpx2.get(f"{url}/readyz").json()
        assert ready["ready"] and ready["calibration"] == "contextual"
        metrics = httpx2.get(f"{url}/metrics").text
    assert 'promptops_requests_total{prompt="router@1.0.0",status="200"} 1.0' in metrics
    assert 'promptops_predictions_total{label="delivery",prompt="router@1.0.0"} 1.0' in metrics
    assert 'promptops_request_duration_seconds_bucket{le="120.0",prompt="router@1.0.0"}' in metrics
    [line] = log_lines(log)
    assert line["request_id"] == "r-1" and line["status"] == 200
    assert line["label"] == "delivery" and line["prompt"] == "router@1.0.0"
    assert line["input_chars"] == len("delivery: where is my lamp") and line["input_tokens"] > 0
    assert len(str(line["input_hash"])) == 64 and "input" not in line
    assert "where is my lamp" not in log.read_text("utf-8")


def test_bad_bodies_are_refused_naming_the_field(project: Path, upstream: FakeOpenAIServer) -> None:
    log = project / "serve.jsonl"
    with serving(ServeConfig(prompt="router", max_body_bytes=4096, log=log)) as url:
        sent = len(upstream.requests)
        unknown = post(url, {"inputs": {"message": "hi", "mesage": "typo"}})
        missing = post(url, {"inputs": {}})
        too_long = post(url, {"inputs": {"message": "x" * 201}})
        wrong_type = post(url, {"inputs": {"message": {"nested": ["deep"]}}})
        extra_top = post(url, {"inputs": {"message": "hi"}, "priority": "high"})
        huge = post(url, {"inputs": {"message": "x" * 10_000}})
        not_json = httpx2.post(f"{url}/v1/predict", content=b"{nope", timeout=10)
        assert len(upstream.requests) == sent  # nothing was sent upstream
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"][0]["field"] == "inputs.mesage"
    assert "not a variable of router@1.0.0" in unknown.json()["error"]["message"]
    assert missing.status_code == 422 and "inputs.message" in missing.json()["error"]["message"]
    assert too_long.status_code == 422
    assert "inputs.message" in too_long.json()["error"]["message"]
    assert "200" in too_long.json()["error"]["message"]
    assert wrong_type.status_code == 422 and extra_top.status_code == 422
    assert "priority" in extra_top.json()["error"]["message"]
    assert huge.status_code == 413 and huge.json()["error"]["kind"] == "body_too_large"
    assert not_json.status_code == 422
    rejected = log_lines(log)
    assert len(rejected) == 6 and {line["status"] for line in rejected} == {422}
    assert rejected[0]["fields"] == ["inputs.mesage"] and "typo" not in log.read_text("utf-8")


def test_hung_upstream_gives_504_within_the_deadline(
    project: Path, upstream: FakeOpenAIServer
) -> None:
    with serving(ServeConfig(prompt="router", timeout=1.0)) as url:
        upstream.plan = FaultPlan(persistent=True, kinds=("hang",))
        started = time.monotonic()
        r = post(url, {"inputs": {"message": "refund: my hung shoes"}})
        elapsed = time.monotonic() - started
        upstream.plan = FaultPlan()
        assert r.status_code == 504, r.text
        assert r.json()["error"]["kind"] == "deadline"
        assert elapsed < 1.0 + 0.5
        # The hung call was cancelled, not left to time out and retry in the background:
        # a retry would reach the (now healthy) upstream within its 0.5 s backoff.
        time.sleep(1.5)
        assert upstream.attempts["refund: my hung shoes"] == 1
        assert post(url, {"inputs": {"message": "refund: my shoes"}}).status_code == 200
        metrics = httpx2.get(f"{url}/metrics").text
    assert 'promptops_upstream_errors_total{kind="deadline"} 1.0' in metrics


def test_upstream_5xx_is_retried_and_what_still_fails_is_502(
    project: Path, upstream: FakeOpenAIServer
) -> None:
    with serving(ServeConfig(prompt="router", timeout=5.0)) as url:
        upstream.plan = FaultPlan(rate=1.0, kinds=("503",), max_per_case=1)
        retried = post(url, {"inputs": {"message": "password: my phone"}})
        upstream.plan = FaultPlan(persistent=True, kinds=("500",))
        failed = post(url, {"inputs": {"message": "password: my desk"}})
        upstream.plan = FaultPlan()
    assert retried.status_code == 200 and retried.json()["label"] == "password"
    assert failed.status_code == 502
    assert failed.json()["error"]["kind"] == "server_error"
    assert "HTTP 500" in failed.json()["error"]["message"]


def test_token_required_for_predict_metrics_and_admin_not_health(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cret-token-value"
    monkeypatch.setenv("SERVE_TOKEN", secret)
    log = project / "serve.jsonl"
    config = ServeConfig(prompt="router", token_env="SERVE_TOKEN", log=log)
    good = {"Authorization": f"Bearer {secret}"}
    bad = {"Authorization": "Bearer s3cret-token-valuX"}
    body = {"inputs": {"message": "refund: my bag"}}
    with serving(config) as url:
        assert post(url, body).status_code == 401
        assert post(url, body, headers=bad).status_code == 401
        assert httpx2.get(f"{url}/metrics").status_code == 401
        assert httpx2.post(f"{url}/admin/candidate/off").status_code == 401
        assert httpx2.get(f"{url}/healthz").status_code == 200
        assert httpx2.get(f"{url}/readyz").status_code == 200
        assert post(url, body, headers=good).status_code == 200
        assert httpx2.get(f"{url}/metrics", headers=good).status_code == 200
    assert secret not in log.read_text("utf-8")


def test_non_loopback_bind_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVE_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="--token-env"):
        ServeConfig(prompt="router", host="0.0.0.0").check_bind()
    with pytest.raises(ConfigError, match="SERVE_TOKEN"):
        ServeConfig(prompt="router", host="10.1.2.3", token_env="SERVE_TOKEN").check_bind()
    monkeypatch.setenv("SERVE_TOKEN", "t")
    ServeConfig(prompt="router", host="10.1.2.3", token_env="SERVE_TOKEN").check_bind()
    ServeConfig(prompt="router", host="127.0.0.2").check_bind()  # loopback: open


def test_logged_inputs_have_pii_redacted(project: Path) -> None:
    log = project / "serve.jsonl"
    message = (
        "refund to card 4111 1111 1111 1111 please, mail jane.doe@example.com "
        "or call +1 212 555 0199, ssn 536-22-1234, from 203.0.113.7"
    )
    with serving(ServeConfig(prompt="router", log=log, log_inputs=True)) as url:
        assert post(url, {"inputs": {"message": message}}).status_code == 200
    text = log.read_text("utf-8")
    for secret in ("4111", "jane.doe@example.com", "555 0199", "536-22-1234", "203.0.113.7"):
        assert secret not in text
    [line] = log_lines(log)
    logged = str(line["input"]["message"])  # type: ignore[index]
    for entity in (
        "<CREDIT_CARD>",
        "<EMAIL_ADDRESS>",
        "<PHONE_NUMBER>",
        "<US_SSN>",
        "<IP_ADDRESS>",
    ):
        assert entity in logged
    assert logged.startswith("refund to card")


def test_serve_answers_exactly_what_eval_scored(project: Path, upstream: FakeOpenAIServer) -> None:
    out = project / "run"
    run_eval("router", EvalOptions(base_url=upstream.base_url, model="fake-model", out=out))
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert any(r["raw_label_probs"] for r in rows)  # calibration was applied by eval
    flipped = [
        r for r in rows if max(r["raw_label_probs"], key=r["raw_label_probs"].get) != r["predicted"]
    ]
    assert flipped  # and it changed some answers, so parity covers calibration
    with serving(ServeConfig(prompt="router")) as url:
        for row in rows:
            served = post(url, {"inputs": row["input"]}).json()
            assert served["label"] == row["predicted"], row["id"]
            assert served["confidence"] == pytest.approx(row["label_probs"][row["predicted"]])


def test_prompt_input_filter_refuses_pii_before_sending(
    project: Path, upstream: FakeOpenAIServer
) -> None:
    strict = (project / "prompts" / "router.yaml").read_text("utf-8")
    strict = strict.replace("name: router", "name: router_strict") + (
        "input_filter:\n  refuse_pii: [CREDIT_CARD, EMAIL_ADDRESS]\n"
    )
    (project / "prompts" / "router_strict.yaml").write_text(strict, encoding="utf-8")
    with serving(ServeConfig(prompt="router_strict")) as url:
        sent = len(upstream.requests)
        card = post(url, {"inputs": {"message": "refund to 4111 1111 1111 1111"}})
        invalid_card = post(url, {"inputs": {"message": "refund to 4111 1111 1111 1112"}})
        email = post(url, {"inputs": {"message": "refund, write to a.b@example.org"}})
        assert len(upstream.requests) == sent + 1  # only the number failing Luhn was sent
    assert card.status_code == 422 and email.status_code == 422
    assert card.json()["error"]["details"][0]["field"] == "inputs.message"
    assert "CREDIT_CARD" in card.json()["error"]["message"]
    assert "EMAIL_ADDRESS" in email.json()["error"]["message"]
    assert invalid_card.status_code == 200


def test_cli_refuses_bad_setups_before_binding(project: Path) -> None:
    from typer.testing import CliRunner

    from promptops.cli import app

    runner = CliRunner()
    open_bind = runner.invoke(app, ["serve", "router", "--host", "0.0.0.0"])
    assert isinstance(open_bind.exception, ConfigError)  # `main` turns it into exit code 2
    assert open_bind.exception.exit_code == 2 and "--token-env" in str(open_bind.exception)
    other = (project / "prompts" / "router_v2.yaml").read_text("utf-8")
    other = other.replace("max_chars: 200", "max_chars: 50")
    (project / "prompts" / "router_v2.yaml").write_text(other, encoding="utf-8")
    mismatch = runner.invoke(app, ["serve", "router", "--shadow", "router_v2"])
    assert isinstance(mismatch.exception, ConfigError)
    assert "same inputs" in str(mismatch.exception)

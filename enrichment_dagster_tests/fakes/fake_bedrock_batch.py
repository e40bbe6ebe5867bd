"""A fake Bedrock batch-inference control plane, served by :class:`FakeBedrock`.

Why: moto implements none of the model-invocation-job calls, and a batch path that is only
ever tested against a mock of our own wrapper proves nothing about the wire. This speaks the
``bedrock`` REST protocol of the botocore service model (2023-04-20), so the code under test
uses a real boto3 ``bedrock`` client:

* ``POST /model-invocation-job`` (create; idempotent on ``clientRequestToken``),
* ``GET /model-invocation-job/{jobIdentifier}`` (get; id or ARN, URL-encoded),
* ``GET /model-invocation-jobs`` (list; ``statusEquals``, ``nameContains``),
* ``POST /model-invocation-job/{jobIdentifier}/stop``.

A job reads its JSONL input from S3 (the moto server: ``s3_endpoint_url``), answers every
record through the same fake model as the runtime routes (``FakeBedrock.serve``: latency,
scripted and random failures, truncation, token counts), and writes
``<outputUri>/<jobId>/<input file>.out`` in shuffled order plus ``manifest.json.out``.
Each answered record is billed once (``billed_records``); errored records are not billed.
A line is routed by its ``recordId`` (which the engine sets to the answer's cache key), never
by its prompt text: the fake model's per-record scripts (``fail_records``), replay folder and
counters see that ``recordId`` as the record id.

End states come from a FIFO script (:meth:`FakeBatchPlane.script_end_states`), default
``Completed``: ``PartiallyCompleted`` answers only the first ``partial_fraction`` of the
records (the rest are missing from the output), ``Expired`` and ``Stopped`` likewise,
``Failed`` writes no output at all. ``error_rate`` gives seeded per-record error lines.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

ACCOUNT = "123456789012"
END_STATES = frozenset({"Completed", "PartiallyCompleted", "Failed", "Expired", "Stopped"})
ACTIVE_STATES = frozenset({"Submitted", "Validating", "Scheduled", "InProgress", "Stopping"})


class _Serves(Protocol):
    def serve(
        self, operation: str, model_id: str, raw_body: bytes, record_id: str | None = None
    ) -> Any: ...


@dataclass
class BatchSettings:
    """Knobs of the fake control plane (change with :meth:`FakeBatchPlane.configure`)."""

    s3_endpoint_url: str | None = None
    #: seconds a job stays Submitted, then InProgress, before it is processed
    submitted_s: float = 0.0
    in_progress_s: float = 0.0
    error_rate: float = 0.0
    partial_fraction: float = 0.5
    seed: int = 0
    region: str = "us-east-1"
    #: Bedrock's per-model quota of jobs submitted or in progress (0: no limit); a create
    #: over it is refused with ServiceQuotaExceededException, as Bedrock does.
    max_jobs_in_progress: int = 0


@dataclass
class FakeJob:
    job_id: str
    arn: str
    request: dict[str, Any]
    status: str = "Submitted"
    message: str | None = None
    submit_time: float = field(default_factory=time.time)
    last_modified: float = field(default_factory=time.time)
    end_time: float | None = None
    end_state: str = "Completed"
    total: int = 0
    processed: int = 0
    success: int = 0
    errors: int = 0
    stop_requested: bool = False

    @property
    def name(self) -> str:
        return str(self.request["jobName"])

    def describe(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "jobArn": self.arn,
            "jobName": self.name,
            "modelId": self.request["modelId"],
            "roleArn": self.request["roleArn"],
            "status": self.status,
            "submitTime": _iso(self.submit_time),
            "lastModifiedTime": _iso(self.last_modified),
            "inputDataConfig": self.request["inputDataConfig"],
            "outputDataConfig": self.request["outputDataConfig"],
            "timeoutDurationInHours": self.request.get("timeoutDurationInHours", 24),
            "modelInvocationType": self.request.get("modelInvocationType", "InvokeModel"),
            "totalRecordCount": self.total,
            "processedRecordCount": self.processed,
            "successRecordCount": self.success,
            "errorRecordCount": self.errors,
        }
        if self.request.get("clientRequestToken"):
            data["clientRequestToken"] = self.request["clientRequestToken"]
        if self.message:
            data["message"] = self.message
        if self.end_time is not None:
            data["endTime"] = _iso(self.end_time)
        return data


class FakeBatchPlane:
    """Jobs, their worker threads and the billing counters (thread-safe)."""

    def __init__(self, model: _Serves) -> None:
        self._model = model
        self._lock = threading.Lock()
        self.settings = BatchSettings()
        self._rng = random.Random(0)
        self._jobs: dict[str, FakeJob] = {}
        self._by_token: dict[str, str] = {}
        self._end_states: deque[str] = deque()
        self._threads: list[threading.Thread] = []
        self.create_calls = 0
        self.billed_records = 0
        self.billed_per_record: dict[str, int] = {}
        self.stop_calls = 0

    # ------------------------------------------------------------------ control
    def configure(self, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                if not hasattr(self.settings, name):
                    raise TypeError(f"unknown batch setting {name!r}")
                setattr(self.settings, name, value)
            if "seed" in changes:
                self._rng = random.Random(self.settings.seed)

    def script_end_states(self, *states: str) -> None:
        """End states of the next created jobs, in order (then ``Completed``)."""
        for state in states:
            if state not in END_STATES:
                raise ValueError(f"unknown end state {state!r}; known: {sorted(END_STATES)}")
        with self._lock:
            self._end_states.extend(states)

    @property
    def jobs(self) -> list[FakeJob]:
        with self._lock:
            return list(self._jobs.values())

    def wait_idle(self, timeout_s: float = 60.0) -> None:
        """Wait until every job reached an end state (for tests)."""
        deadline = time.monotonic() + timeout_s
        for thread in list(self._threads):
            thread.join(max(deadline - time.monotonic(), 0.0))

    # ------------------------------------------------------------------ routes
    def handle(self, method: str, path: str) -> tuple[str, dict[str, str]] | None:
        """The operation for ``method path`` and its URI parameters, or None if not ours."""
        url = urlsplit(path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if method == "POST" and parts == ["model-invocation-job"]:
            return "create", query
        if method == "GET" and parts == ["model-invocation-jobs"]:
            return "list", query
        if parts[:1] == ["model-invocation-job"] and len(parts) >= 2:
            ident = "/".join(parts[1:])
            if method == "POST" and ident.endswith("/stop"):
                return "stop", {**query, "id": ident.removesuffix("/stop")}
            if method == "GET":
                return "get", {**query, "id": ident}
        return None

    def call(self, operation: str, params: Mapping[str, str], body: bytes) -> tuple[int, Any]:
        """(HTTP status, JSON reply or (error code, message)) of one control-plane call."""
        if operation == "create":
            return self._create(json.loads(body or b"{}"))
        if operation == "list":
            return 200, self._list(params)
        job = self._find(params["id"])
        if job is None:
            return 404, ("ResourceNotFoundException", f"job {params['id']} not found")
        if operation == "get":
            with self._lock:
                return 200, job.describe()
        return self._stop(job)

    def _create(self, request: dict[str, Any]) -> tuple[int, Any]:
        for name in ("jobName", "roleArn", "modelId", "inputDataConfig", "outputDataConfig"):
            if name not in request:
                return 400, ("ValidationException", f"{name} is required")
        token = request.get("clientRequestToken")
        with self._lock:
            self.create_calls += 1
            if token and token in self._by_token:
                return 200, {"jobArn": self._jobs[self._by_token[token]].arn}
            active = sum(1 for j in self._jobs.values() if j.status in ACTIVE_STATES
                         and j.request.get("modelId") == request["modelId"])
            if self.settings.max_jobs_in_progress and active >= self.settings.max_jobs_in_progress:
                return 400, ("ServiceQuotaExceededException",
                             f"{active} jobs already in progress for {request['modelId']}")
            job_id = uuid.uuid4().hex[:12]
            arn = (f"arn:aws:bedrock:{self.settings.region}:{ACCOUNT}:"
                   f"model-invocation-job/{job_id}")
            job = FakeJob(job_id, arn, request)
            job.end_state = self._end_states.popleft() if self._end_states else "Completed"
            self._jobs[job_id] = job
            if token:
                self._by_token[token] = job_id
        thread = threading.Thread(target=self._run, args=(job,), daemon=True,
                                  name=f"fake-batch-{job_id}")
        self._threads.append(thread)
        thread.start()
        return 200, {"jobArn": arn}

    def _list(self, params: Mapping[str, str]) -> dict[str, Any]:
        with self._lock:
            jobs = [
                j.describe() for j in self._jobs.values()
                if ("statusEquals" not in params or j.status == params["statusEquals"])
                and params.get("nameContains", "") in j.name
            ]
        return {"invocationJobSummaries": jobs}

    def _stop(self, job: FakeJob) -> tuple[int, Any]:
        with self._lock:
            self.stop_calls += 1
            if job.status not in ACTIVE_STATES:
                return 400, ("ValidationException", f"job is {job.status}, it cannot be stopped")
            job.stop_requested = True
            job.status = "Stopping"
            job.last_modified = time.time()
        return 200, {}

    def _find(self, ident: str) -> FakeJob | None:
        job_id = ident.rsplit("/", 1)[-1]
        with self._lock:
            return self._jobs.get(job_id)

    # ------------------------------------------------------------------ work
    def _set(self, job: FakeJob, status: str, message: str | None = None) -> None:
        with self._lock:
            job.status = status
            job.message = message
            job.last_modified = time.time()
            if status in END_STATES:
                job.end_time = job.last_modified

    def _sleep_unless_stopped(self, job: FakeJob, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if job.stop_requested:
                return False
            time.sleep(min(0.02, max(deadline - time.monotonic(), 0)))
        return not job.stop_requested

    def _run(self, job: FakeJob) -> None:
        try:
            self._run_job(job)
        except Exception as exc:  # a broken input is the job's failure, as on Bedrock
            self._set(job, "Failed", f"fake batch: {exc!r}")

    def _run_job(self, job: FakeJob) -> None:
        settings = self.settings
        if not self._sleep_unless_stopped(job, settings.submitted_s):
            self._set(job, "Stopped")
            return
        self._set(job, "InProgress")
        s3 = self._s3()
        in_bucket, in_key = _split_s3(job.request["inputDataConfig"]["s3InputDataConfig"]["s3Uri"])
        out_bucket, out_prefix = _split_s3(job.request["outputDataConfig"]["s3OutputDataConfig"]
                                           ["s3Uri"])
        keys = ([in_key] if in_key.endswith(".jsonl") else [
            o["Key"] for o in s3.list_objects_v2(Bucket=in_bucket, Prefix=in_key).get("Contents", [])
            if o["Key"].endswith(".jsonl")])
        inputs = {key: _read_lines(s3, in_bucket, key) for key in keys}
        with self._lock:
            job.total = sum(len(v) for v in inputs.values())
        if not self._sleep_unless_stopped(job, settings.in_progress_s):
            job.end_state = "Stopped"  # a stop request ends the job with what it answered
        if job.end_state == "Failed":
            self._set(job, "Failed", "fake batch: scripted failure")
            return
        fraction = 1.0 if job.end_state == "Completed" else settings.partial_fraction
        input_tokens = output_tokens = 0
        base = f"{out_prefix.rstrip('/')}/{job.job_id}/" if out_prefix else f"{job.job_id}/"
        for key, lines in inputs.items():
            answered = lines[: int(len(lines) * fraction)]
            out_lines: list[str] = []
            for line in answered:
                record = json.loads(line)
                result, tokens = self._answer(job, record)
                input_tokens += tokens[0]
                output_tokens += tokens[1]
                out_lines.append(json.dumps(result))
            with self._lock:
                self._rng.shuffle(out_lines)
            name = key.rsplit("/", 1)[-1] + ".out"
            s3.put_object(Bucket=out_bucket, Key=base + name,
                          Body=("\n".join(out_lines) + "\n").encode())
        manifest = {
            "totalRecordCount": job.total, "processedRecordCount": job.processed,
            "successRecordCount": job.success, "errorRecordCount": job.errors,
            "inputTokenCount": input_tokens, "outputTokenCount": output_tokens,
        }
        s3.put_object(Bucket=out_bucket, Key=base + "manifest.json.out",
                      Body=json.dumps(manifest).encode())
        self._set(job, job.end_state)

    def _answer(self, job: FakeJob, record: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[int, int]]:
        """One output line: the fake model's Converse answer, or an error object."""
        record_id = str(record.get("recordId"))
        model_input = record.get("modelInput") or {}
        with self._lock:
            job.processed += 1
            injected = self._rng.random() < self.settings.error_rate
        if not injected:
            reply = self._model.serve("converse", job.request["modelId"],
                                      json.dumps(model_input).encode(), record_id=record_id)
            if reply.status == 200:
                output = json.loads(reply.body)
                usage = output.get("usage", {})
                with self._lock:
                    job.success += 1
                    self.billed_records += 1
                    self.billed_per_record[record_id] = self.billed_per_record.get(record_id, 0) + 1
                return ({"recordId": record_id, "modelInput": model_input, "modelOutput": output},
                        (int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0))))
        with self._lock:
            job.errors += 1
        error = {"errorCode": 400, "errorMessage": "fake batch: the model could not answer"}
        return {"recordId": record_id, "modelInput": model_input, "error": error}, (0, 0)

    def _s3(self) -> Any:
        import boto3

        return boto3.session.Session().client(
            "s3", endpoint_url=self.settings.s3_endpoint_url, region_name=self.settings.region)


def _read_lines(s3: Any, bucket: str, key: str) -> list[str]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    return [line for line in body.splitlines() if line.strip()]


def _split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat().replace("+00:00", "Z")

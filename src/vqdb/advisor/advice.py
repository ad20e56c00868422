"""What the advisor found: every row measured, the Pareto frontier of memory against recall,
and the recommendation for a target, as JSON and as a table."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from vqdb.advisor.trial import CONFIDENCE, Row

OBJECTIVES = ("memory", "speed")


def ranked(rows: list[Row], objective: str) -> list[Row]:
    """Rows in the order the objective prefers them: least RAM per vector (then the least
    oversampling, then the fastest), or the most queries per second."""
    if objective == "speed":
        return sorted(rows, key=lambda r: (-r.qps, r.bytes_per_vector_ram))
    return sorted(rows, key=lambda r: (r.bytes_per_vector_codes, r.oversampling, -r.qps))


def mark_frontier(rows: list[Row]) -> None:
    """pareto = no other row has as little RAM per vector and a higher recall, or less RAM
    and as high a recall."""
    for row in rows:
        row.pareto = not any(
            (o.bytes_per_vector_ram <= row.bytes_per_vector_ram and o.recall > row.recall)
            or (o.bytes_per_vector_ram < row.bytes_per_vector_ram and o.recall >= row.recall)
            for o in rows
        )


@dataclass
class Advice:
    target_recall: float
    objective: str
    sample: dict[str, Any]
    candidates: list[Row]  # screened: every method at every oversampling
    verified: list[Row]  # behind the collection's graph, in the order tried
    chosen: Row | None  # the verified row recommended; None: no quantization meets the target
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    vector_name: str = ""  # the collection's vector advised on ("" unnamed, or a file's)

    def recommendation(self) -> dict[str, Any]:
        row = self.chosen
        if row is None:
            return {
                "label": "float32 (none)",
                "quantization_config": "Disabled",
                "search_params": {},
                "estimated_recall": None,
                "recall_interval": None,
                "met": False,
                "why": f"no quantization reached recall@{self.sample['limit']} "
                f">= {self.target_recall} on the sample: keep the originals",
            }
        return {
            "label": row.label,
            "quantization_config": row.quantization_config,
            "search_params": row.search_params,
            "estimated_recall": round(row.recall, 4),
            "recall_interval": [round(v, 4) for v in row.recall_interval],
            "confidence": CONFIDENCE,
            "bytes_per_vector_ram": round(row.bytes_per_vector_ram, 2),
            "bytes_per_vector_disk": round(row.bytes_per_vector_disk, 2),
            "qps": round(row.qps, 1),
            "vector_name": self.vector_name,
            "measured_with": row.index,
            # the RAM figure counts codes + graph: the originals, read only to rescore a few
            # candidates, belong on disk (a vector's `on_disk: true`), else add them
            "assumes": "originals on disk (vectors_config on_disk: true)",
            "met": True,
            "why": f"the {'least memory' if self.objective == 'memory' else 'fastest'} "
            f"whose recall@{self.sample['limit']} interval stays >= {self.target_recall} "
            "behind the collection's graph",
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "target_recall": self.target_recall,
            "objective": self.objective,
            "sample": self.sample,
            "seconds": round(self.seconds, 2),
            "candidates": [r.to_json() for r in self.candidates],
            "frontier": [r.label + f" x{r.oversampling:g}" for r in self.candidates if r.pareto],
            "verified": [r.to_json() for r in self.verified],
            "recommendation": self.recommendation(),
            "notes": self.notes,
        }

    def table(self) -> str:
        """The rows as a Markdown table: * on the frontier, > the recommendation."""
        k = self.sample["limit"]
        lines = [
            f"| | method | oversampling | recall@{k} | 95% interval | QPS | RAM B/vec "
            "| disk B/vec | build s |",
            "|---|---|---:|---:|---|---:|---:|---:|---:|",
        ]
        for r in [*self.candidates, *self.verified]:
            chosen = r is self.chosen
            mark = (">" if chosen else "") + ("*" if r.pareto else "")
            ef = r.search_params.get("hnsw_ef")
            label = r.label + (
                "" if r.index == "scan" else f" ({r.index}{f' ef={ef}' if ef else ''})"
            )
            lines.append(
                f"| {mark} | {label} | {r.oversampling:g} | {r.recall:.3f} | "
                f"{r.recall_interval[0]:.3f}-{r.recall_interval[1]:.3f} | {r.qps:.0f} | "
                f"{r.bytes_per_vector_ram:.0f} | {r.bytes_per_vector_disk:.0f} | {r.build_s:.2f} |"
            )
        return "\n".join(lines)

    def summary(self) -> str:
        rec = self.recommendation()
        s = self.sample
        if s["sampled"]:
            sampled = f"a sample of {s['sample']:,}"
        else:
            sampled = f"the other {s['sample']:,}" if s["held_out"] else "all"
        head = (
            f"{s['vectors']:,} vectors x {s['dim']} ({s['distance']}), measured on {sampled}, "
            f"{s['queries']} {'held-out' if s['held_out'] else 'given'} queries, "
            f"{self.seconds:.0f} s"
        )
        if not rec["met"]:
            return f"{head}\nrecommendation: {rec['why']}"
        low, high = rec["recall_interval"]
        return (
            f"{head}\nrecommendation ({self.objective}, recall@{s['limit']} >= "
            f"{self.target_recall}): {rec['label']}, oversampling "
            f"{rec['search_params']['quantization']['oversampling']:g}: estimated recall "
            f"{rec['estimated_recall']:.3f} ({low:.3f}-{high:.3f}), "
            f"{rec['bytes_per_vector_ram']:.0f} B/vector in RAM\n"
            f"  quantization_config: {json.dumps(rec['quantization_config'])}\n"
            f"  search_params: {json.dumps(rec['search_params'])}"
        )

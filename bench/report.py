"""Turn a results dict into the markdown tables printed at the end of a run (pasted into bench/README.md)."""

from __future__ import annotations

from typing import Any

# The targets.
THROUGHPUT_TARGET = 2.0  # router rps at c=64 >= 2x LiteLLM's proxy
LATENCY_TARGET = 0.5  # router added latency at c=1 <= half of LiteLLM's


def _cell(
    cells: list[dict[str, Any]], target: str, shape: str, stream: bool, c: int
) -> dict[str, Any] | None:
    for cell in cells:
        if (cell["target"], cell["shape"], cell["stream"], cell["concurrency"]) == (target, shape, stream, c):
            return cell
    return None


def _f(value: Any, digits: int = 2) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def cells_table(cells: list[dict[str, Any]]) -> str:
    gc = any("gc_ms_per_req" in c for c in cells)
    head = (
        "| target | request | stream | c | req/s | p50 ms | p90 ms | p99 ms | TTFT p50 ms | errors "
        "| proxy CPU ms/req | other load % |"
    )
    rule = "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    if gc:
        head += " GC ms/req | longest GC pause ms |"
        rule += "---:|---:|"
    rows = [head, rule]
    for cell in cells:
        lat = cell["latency_ms"]
        row = (
            f"| {cell['target']} | {cell['shape']} | {'yes' if cell['stream'] else 'no'} "
            f"| {cell['concurrency']} "
            f"| {_f(cell['rps'], 1)} | {_f(lat.get('p50'))} | {_f(lat.get('p90'))} | {_f(lat.get('p99'))} "
            f"| {_f(cell['ttft_ms'].get('p50')) if cell['stream'] else '-'} | {cell['errors']} "
            f"| {_f(cell.get('server_cpu_ms_per_req'), 3)} | {_f(cell.get('foreign_cpu_pct'), 0)} |"
        )
        if gc:
            row += f" {_f(cell.get('gc_ms_per_req'), 3)} | {_f(cell.get('gc_max_pause_ms'), 1)} |"
        rows.append(row)
    return "\n".join(rows)


def comparisons(cells: list[dict[str, Any]], concurrencies: list[int]) -> list[dict[str, Any]]:
    """Per request kind: added latency at the lowest c and throughput at the highest, router vs LiteLLM."""
    low, high = min(concurrencies), max(concurrencies)
    out: list[dict[str, Any]] = []
    kinds = sorted({(c["shape"], c["stream"]) for c in cells})
    for shape, stream in kinds:
        floor = _cell(cells, "floor", shape, stream, low)
        row: dict[str, Any] = {"shape": shape, "stream": stream, "low_c": low, "high_c": high}
        for name in ("router", "litellm"):
            at_low = _cell(cells, name, shape, stream, low)
            at_high = _cell(cells, name, shape, stream, high)
            if at_low and floor and at_low["latency_ms"] and floor["latency_ms"]:
                row[f"{name}_added_ms"] = round(at_low["latency_ms"]["p50"] - floor["latency_ms"]["p50"], 3)
            if at_high:
                row[f"{name}_rps_high"] = at_high["rps"]
        if row.get("router_added_ms") is not None and row.get("litellm_added_ms"):
            row["added_latency_ratio"] = round(row["router_added_ms"] / row["litellm_added_ms"], 3)
            row["latency_target_met"] = row["added_latency_ratio"] <= LATENCY_TARGET
        if row.get("router_rps_high") is not None and row.get("litellm_rps_high"):
            row["throughput_ratio"] = round(row["router_rps_high"] / row["litellm_rps_high"], 2)
            row["throughput_target_met"] = row["throughput_ratio"] >= THROUGHPUT_TARGET
        out.append(row)
    return out


def _verdict(row: dict[str, Any], key: str, met: str) -> str:
    if row.get(key) is None:
        return "-"
    return f"{row[key]} {'✅' if row.get(met) else '❌'}"


def comparisons_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    low, high = rows[0]["low_c"], rows[0]["high_c"]
    lines = [
        f"| request | stream | router added ms (c={low}) | LiteLLM added ms (c={low}) | ratio (target <= "
        f"{LATENCY_TARGET}) | router req/s (c={high}) | LiteLLM req/s (c={high}) | ratio (target >= "
        f"{THROUGHPUT_TARGET}) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['shape']} | {'yes' if r['stream'] else 'no'} | {_f(r.get('router_added_ms'))} "
            f"| {_f(r.get('litellm_added_ms'))} | {_verdict(r, 'added_latency_ratio', 'latency_target_met')} "
            f"| {_f(r.get('router_rps_high'), 1)} | {_f(r.get('litellm_rps_high'), 1)} "
            f"| {_verdict(r, 'throughput_ratio', 'throughput_target_met')} |"
        )
    return "\n".join(lines)


def servers_table(servers: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| server | start-up to first answer s | RSS idle MB | RSS after load MB |",
        "|---|---:|---:|---:|",
    ]
    for name, s in servers.items():
        lines.append(
            f"| {name} | {_f(s.get('startup_s'))} | {_f(s.get('rss_idle_mb'), 1)} "
            f"| {_f(s.get('rss_after_mb'), 1)} |"
        )
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    parts = [
        f"**{meta['date']}** · commit `{meta['commit']}` · {meta['nproc']} x {meta['cpu']} · "
        f"{meta['mode']} ({meta['duration_s']} s per cell, warm-up {meta['warmup_s']} s) · "
        f"router workers: {meta['router_workers']} · pinning: {meta['pinning']}",
        "",
        cells_table(results["cells"]),
        "",
        comparisons_table(results.get("comparisons", [])),
        "",
        servers_table(results.get("servers", {})),
    ]
    resolver = results.get("resolver")
    if resolver:
        if "error" in resolver:
            parts += ["", f"Route resolution: {resolver['error']}"]
        else:
            parts += [
                "",
                f"Route resolution ({resolver['rules']:,} rules, {resolver['tenants']:,} tenants): "
                f"build {resolver['build_s']} s, {resolver['warm_per_s']:,} /s warm (known model names), "
                f"{resolver['cold_per_s']:,} /s cold (every name new)",
            ]
    usage = results.get("usage_writes")
    if usage:
        if "error" in usage:
            parts += ["", f"Usage writes: {usage['error']}"]
        else:
            for backend, r in usage.items():
                shown = ", ".join(
                    f"{k.removesuffix('_rows_per_s')} {v:,.0f}" for k, v in r.items() if k.endswith("_per_s")
                )
                parts += ["", f"Usage writes into {backend} (rows/s): {shown}"]
    soak = results.get("soak")
    if soak:
        parts += [
            "",
            f"Soak: {soak['seconds']} s at c={soak['concurrency']} ({soak['shape']}, stream), "
            f"{soak['rps']:,} req/s, {soak['errors']} errors, RSS {soak['rss_first_minute_mb']} MB after "
            f"the first minute -> {soak['rss_end_mb']} MB at the end (growth {soak['growth_mb']} MB); "
            f"samples: {soak['rss_samples_mb']}",
        ]
    profile = results.get("profile")
    if profile and "top_self" in profile:
        parts += ["", "Router profile (py-spy, self time, share of samples):", ""]
        parts += [f"- {pct:.1f}% {fn}" for fn, pct in profile["top_self"][:15]]
    return "\n".join(parts)

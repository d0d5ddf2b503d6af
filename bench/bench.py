#!/usr/bin/env python3
"""bench.py: the harness behind `make bench`.

Times `sessionize run` against DuckDB running the same job (bench/duckdb_sessions.sql) and
against "the floor" (reading the columns the job needs and sorting them by user and time),
on the same generated events, several rounds each; checks that sessionize and DuckDB found
the same sessions; prints a table and writes it as JSON. bench/README.md says what each
figure means.

Every measured command runs in its own process, so its wall time, CPU time and peak RSS
(from wait4) are its own. DuckDB and DataFusion run from a venv under the work directory
that this script creates from bench/requirements.txt. Only the standard library is used
here, so the harness itself runs under any python3.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
SQL_FILE = BENCH_DIR / "duckdb_sessions.sql"
# the alias list and GA4's source categories, which sessionize has built in
CHANNELS_DIR = REPO_DIR / "data" / "channels"
REQUIREMENTS = BENCH_DIR / "requirements.txt"

TIMEOUT_US = 30 * 60 * 1_000_000
# the columns the job needs, which the floor reads and sorts
FLOOR_COLUMNS = (
    "user_id, event_time, event_id, event_name, page_url, referrer, device, country, revenue"
)
TABLES = (
    "sessions",
    "metrics_daily",
    "metrics_by_source",
    "metrics_by_device",
    "metrics_by_landing_page",
)
# the key of each table's rows, to match sessionize's rows with DuckDB's
TABLE_KEYS = {
    "sessions": ("user_id", "session_start"),
    "metrics_daily": ("dt",),
    "metrics_by_source": ("dt", "source", "medium"),
    "metrics_by_device": ("dt", "device"),
    "metrics_by_landing_page": ("dt", "landing_page"),
}
EXAMPLES = 5


# --------------------------------------------------------------------------------------
# The measured work. Each `_name` subcommand runs in a child process (the venv's python),
# prints one JSON line and exits.
# --------------------------------------------------------------------------------------


def duckdb_connection():
    import duckdb

    connection = duckdb.connect()
    connection.execute("set timezone = 'UTC'")
    return connection


def child_duckdb_job(args):
    """The whole job in DuckDB: every statement of duckdb_sessions.sql, timed one by one."""
    started = time.perf_counter()
    connection = duckdb_connection()
    sql = (
        SQL_FILE.read_text()
        .replace("{{ input_glob }}", args.input_glob)
        .replace("{{ output_dir }}", args.output)
        .replace("{{ timeout_us }}", str(TIMEOUT_US))
        .replace("{{ channels_dir }}", str(CHANNELS_DIR))
    )
    steps = []
    for statement in connection.extract_statements(sql):
        step_started = time.perf_counter()
        connection.execute(statement)
        steps.append(
            {
                "statement": str(statement.type).split(".")[-1].lower(),
                "seconds": round(time.perf_counter() - step_started, 3),
            }
        )
    sessions = connection.execute("select count(*) from sessions").fetchone()[0]
    return {"seconds": time.perf_counter() - started, "sessions": sessions, "steps": steps}


def child_duckdb_floor(args):
    """The floor in DuckDB: the needed columns, read and fully sorted into a temp table."""
    started = time.perf_counter()
    connection = duckdb_connection()
    order = "" if args.read_only else "order by user_id, event_time"
    connection.execute(
        f"""
        create temp table floor as
        select {FLOOR_COLUMNS}
        from read_parquet('{args.input_glob}', hive_partitioning = false)
        {order}
        """
    )
    rows = connection.execute("select count(*) from floor").fetchone()[0]
    return {"seconds": time.perf_counter() - started, "rows": rows}


def child_datafusion_floor(args):
    """The floor in DataFusion (sessionize's engine, through its Python bindings): the needed
    columns, read, sorted and collected as Arrow batches in memory."""
    from datafusion import SessionConfig, SessionContext

    started = time.perf_counter()
    # as sessionize's engine.rs: no Utf8View columns through the sort
    config = SessionConfig().set("datafusion.execution.parquet.schema_force_view_types", "false")
    context = SessionContext(config)
    context.register_parquet("events", args.input_dir)
    batches = context.sql(
        f"select {FLOOR_COLUMNS} from events order by user_id, event_time"
    ).collect()
    rows = sum(batch.num_rows for batch in batches)
    return {"seconds": time.perf_counter() - started, "rows": rows}


def child_baseline(args):
    """Only starts python and imports one engine: the part of the DuckDB and DataFusion
    rows' time and RSS that is not the work."""
    __import__(args.engine)
    return {}


def child_versions(args):
    import datafusion
    import duckdb

    return {"duckdb": duckdb.__version__, "datafusion": datafusion.__version__}


def child_check(args):
    """Compares sessionize's tables with DuckDB's, row by row, reading both outputs."""
    connection = duckdb_connection()
    for side, root in (("s", args.sessionize_output), ("d", args.duckdb_output)):
        for table in TABLES:
            connection.execute(
                f"create view {side}_{table} as select * from "
                f"read_parquet('{root}/{table}/**/*.parquet', hive_partitioning = true)"
            )
    connection.execute(
        f"""
        create view input_events as
        select * from read_parquet('{args.input_glob}', hive_partitioning = false)
        """
    )
    input_rows, valid_rows, distinct_valid_events = connection.execute(
        """
        select
            count(*),
            count(*) filter (where user_id is not null and trim(user_id) <> ''
                and event_time is not null),
            count(distinct event_id) filter (where user_id is not null and trim(user_id) <> ''
                and event_time is not null)
        from input_events
        """
    ).fetchone()
    report = {
        "input_rows": input_rows,
        "valid_rows": valid_rows,
        "distinct_valid_events": distinct_valid_events,
        "same_sessions": same_sessions(connection),
        "all_columns": {table: all_columns_equal(connection, table) for table in TABLES},
    }
    report["same_sessions"]["passed"] = same_sessions_passed(report["same_sessions"])
    report["all_columns_equal"] = all(t["equal"] for t in report["all_columns"].values())
    return report


def same_sessions(connection):
    """The check `make bench` passes or fails on: as many sessions, and per session the same
    (user_id, session_start, session_end, page_view_count)."""
    counts = connection.execute(
        "select (select count(*) from s_sessions), (select count(*) from d_sessions)"
    ).fetchone()
    connection.execute(
        """
        create temp table session_pairs as
        select
            s.user_id is not null as in_sessionize,
            d.user_id is not null as in_duckdb,
            coalesce(s.user_id, d.user_id) as user_id,
            coalesce(s.session_start, d.session_start) as session_start,
            s.session_end as sessionize_session_end,
            d.session_end as duckdb_session_end,
            s.page_view_count as sessionize_page_view_count,
            d.page_view_count as duckdb_page_view_count
        from s_sessions as s
        full join d_sessions as d
            on s.user_id = d.user_id and s.session_start = d.session_start
        """
    )
    kinds = {
        "only_in_sessionize": "not in_duckdb",
        "only_in_duckdb": "not in_sessionize",
        "other_session_end": "in_sessionize and in_duckdb "
        "and sessionize_session_end is distinct from duckdb_session_end",
        "other_page_view_count": "in_sessionize and in_duckdb "
        "and sessionize_page_view_count is distinct from duckdb_page_view_count",
    }
    mismatches = {}
    for kind, condition in kinds.items():
        count = connection.execute(
            f"select count(*) from session_pairs where {condition}"
        ).fetchone()[0]
        cursor = connection.execute(
            f"""
            -- as text: python would need pytz to fetch a timestamp with a time zone
            select cast(columns(* exclude (in_sessionize, in_duckdb)) as varchar)
            from session_pairs
            where {condition}
            order by user_id, session_start
            limit {EXAMPLES}
            """
        )
        names = [column[0] for column in cursor.description]
        examples = [dict(zip(names, row)) for row in cursor.fetchall()]
        mismatches[kind] = {"count": count, "examples": examples}
    return {"sessionize_sessions": counts[0], "duckdb_sessions": counts[1], **mismatches}


def same_sessions_passed(check):
    return check["sessionize_sessions"] == check["duckdb_sessions"] and all(
        value["count"] == 0 for value in check.values() if isinstance(value, dict)
    )


def all_columns_equal(connection, table):
    """Every column of one table, matched on the table's key: how many rows are on one side
    only, and how many matched rows differ in each column (doubles within 1e-9, relative, as
    sums may be added in another order)."""
    described = connection.execute(f"describe s_{table}").fetchall()
    duckdb_columns = {row[0] for row in connection.execute(f"describe d_{table}").fetchall()}
    # columns the DuckDB job does not compute (channel, browser, os, …) are listed, not compared
    not_compared = [row[0] for row in described if row[0] not in duckdb_columns]
    described = [row for row in described if row[0] in duckdb_columns]
    keys = TABLE_KEYS[table]
    join = " and ".join(f"s.{key} is not distinct from d.{key}" for key in keys)
    counts = [
        f"count(*) filter (where s.{keys[0]} is null) as only_in_duckdb",
        f"count(*) filter (where d.{keys[0]} is null) as only_in_sessionize",
    ]
    for name, data_type, *_ in described:
        if name in keys:
            continue
        if data_type == "DOUBLE":
            differs = (
                f"not (s.{name} is not distinct from d.{name} or abs(s.{name} - d.{name}) "
                f"<= 1e-9 * greatest(abs(s.{name}), abs(d.{name})))"
            )
        else:
            differs = f"s.{name} is distinct from d.{name}"
        both = f"s.{keys[0]} is not null and d.{keys[0]} is not null"
        counts.append(f"count(*) filter (where {both} and {differs}) as {name}")
    cursor = connection.execute(
        f"select {', '.join(counts)} from s_{table} as s full join d_{table} as d on {join}"
    )
    names = [column[0] for column in cursor.description]
    differing = {name: n for name, n in zip(names, cursor.fetchone()) if n}
    s_rows, d_rows = connection.execute(
        f"select (select count(*) from s_{table}), (select count(*) from d_{table})"
    ).fetchone()
    return {
        "sessionize_rows": s_rows,
        "duckdb_rows": d_rows,
        "differing_rows_by_column": differing,
        "not_compared": not_compared,
        "equal": not differing and s_rows == d_rows,
    }


CHILDREN = {
    "_duckdb-job": child_duckdb_job,
    "_duckdb-floor": child_duckdb_floor,
    "_datafusion-floor": child_datafusion_floor,
    "_baseline": child_baseline,
    "_versions": child_versions,
    "_check": child_check,
}


def child_main(argv):
    parser = argparse.ArgumentParser(prog=f"bench.py {argv[0]}")
    parser.add_argument("--input-dir")
    parser.add_argument("--input-glob")
    parser.add_argument("--output")
    parser.add_argument("--read-only", action="store_true")
    parser.add_argument("--engine")
    parser.add_argument("--sessionize-output")
    parser.add_argument("--duckdb-output")
    args = parser.parse_args(argv[1:])
    print(json.dumps(CHILDREN[argv[0]](args)))


# --------------------------------------------------------------------------------------
# The harness: data, venv, rounds, check, report.
# --------------------------------------------------------------------------------------


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def measure(command, cwd, env=None):
    """Runs one command as a child and returns its wall time, CPU time, peak RSS and
    output. wait4 gives this child's own resource use (and that of the children it waited
    for), which getrusage(RUSAGE_CHILDREN) would mix with every earlier child's."""
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=stdout, stderr=stderr, text=True
        )
        _, status, rusage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read(), stderr.read()
    if process.returncode != 0:
        raise SystemExit(
            f"bench: {' '.join(map(str, command))} failed with exit code {process.returncode}\n"
            f"{output}{errors}"
        )
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(rusage.ru_utime + rusage.ru_stime, 3),
        "max_rss_mib": round(rusage.ru_maxrss / 1024, 1),
        "stdout": output,
    }


def run_child(python, name, cwd, **options):
    command = [str(python), str(Path(__file__).resolve()), name]
    for key, value in options.items():
        if value is True:
            command.append(f"--{key.replace('_', '-')}")
        elif value is not None:
            command += [f"--{key.replace('_', '-')}", str(value)]
    measured = measure(command, cwd)
    measured["result"] = json.loads(measured.pop("stdout").strip().splitlines()[-1])
    return measured


def ensure_venv(work, python_override):
    """The interpreter with duckdb and datafusion: --python, else bench/.work/venv, created
    (or brought up to date) from bench/requirements.txt."""
    if python_override:
        return Path(python_override)
    venv = work / "venv"
    python = venv / "bin" / "python"
    stamp = venv / ".requirements.txt"
    wanted = REQUIREMENTS.read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    log(f"installing {REQUIREMENTS.relative_to(REPO_DIR)} into {venv}")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(REQUIREMENTS)],
        check=True,
    )
    stamp.write_text(wanted)
    return python


def find_sessionize(explicit, cargo):
    """--sessionize, else <cargo metadata's target_directory>/release/sessionize (which
    follows $CARGO_TARGET_DIR and .cargo/config), else $CARGO_TARGET_DIR or target/."""
    if explicit:
        path = Path(explicit)
    else:
        try:
            metadata = subprocess.run(
                [cargo, "metadata", "--format-version", "1", "--no-deps"],
                cwd=REPO_DIR, check=True, capture_output=True, text=True,
            )
            target = Path(json.loads(metadata.stdout)["target_directory"])
        except (OSError, subprocess.CalledProcessError) as error:
            log(f"cargo metadata failed ({error}); using $CARGO_TARGET_DIR or target/")
            target = REPO_DIR / os.environ.get("CARGO_TARGET_DIR", "target")
        path = target / "release" / "sessionize"
    if not path.is_file():
        raise SystemExit(f"bench: no sessionize binary at {path}: run `make build` first")
    return path.resolve()


def ensure_events(sessionize, work, events, days, seed, start):
    """The generated events for these options, reused when a previous run made them."""
    directory = work / f"events-n{events}-d{days}-s{seed}-{start}"
    done = directory / ".generated"
    if done.exists():
        log(f"reusing {directory}")
        return directory, json.loads(done.read_text())
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(directory, ignore_errors=True)
    log(f"generating {events:,} events into {directory}")
    measured = measure(
        [str(sessionize), "generate", "--events", str(events), "--days", str(days),
         "--seed", str(seed), "--start", start, "--output", str(partial)],
        cwd=work,
    )
    partial.rename(directory)
    info = {"summary": measured["stdout"].strip(), "seconds": measured["wall_s"]}
    done.write_text(json.dumps(info))
    return directory, info


def warm_page_cache(directory):
    """Reads every input file once, so no contender pays for the first read from disk."""
    total = 0
    for path in sorted(directory.rglob("*.parquet")):
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                total += len(chunk)
    return total


def contenders(sessionize, python, events_dir, out_dir, with_datafusion, memory_limit=None):
    """name → (label, a function that runs it once and returns its measurement)."""
    glob = f"{events_dir}/**/*.parquet"
    # the settings duckdb_sessions.sql mirrors: no SESSIONIZE_CONFIG & co.
    # (DATAFUSION_* variables pass through, and the JSON records them)
    sessionize_env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONIZE_")}

    # one setting differs from the defaults: sessions are not split at max_session_duration,
    # a rule plain window functions cannot express (bench/README.md)
    config = out_dir / "sessionize.toml"
    config.write_text('[sessions]\nmax_session_duration = "0s"\n')

    def sessionize_run():
        output = out_dir / "sessionize"
        shutil.rmtree(output, ignore_errors=True)
        measured = measure(
            [str(sessionize), "run", "--config", str(config)]
            + ["--input", str(events_dir), "--output", str(output)]
            + (["--memory-limit", memory_limit] if memory_limit else []),
            cwd=out_dir,
            env=sessionize_env,
        )
        measured["result"] = {
            "summary": measured.pop("stdout"),
            "tables": sorted(p.name for p in output.iterdir() if not p.name.startswith("_")),
        }
        return measured

    def duckdb_job():
        output = out_dir / "duckdb"
        shutil.rmtree(output, ignore_errors=True)
        output.mkdir(parents=True)
        return run_child(python, "_duckdb-job", out_dir, input_glob=glob, output=output)

    runs = {
        "sessionize": ("sessionize run (all tables)", sessionize_run),
        "duckdb": ("duckdb, same job (5 tables)", duckdb_job),
        "floor_duckdb": (
            "floor: read+sort, duckdb",
            lambda: run_child(python, "_duckdb-floor", out_dir, input_glob=glob),
        ),
        "read_duckdb": (
            "read only, duckdb",
            lambda: run_child(python, "_duckdb-floor", out_dir, input_glob=glob, read_only=True),
        ),
    }
    if with_datafusion:
        runs["floor_datafusion"] = (
            "floor: read+sort, datafusion",
            lambda: run_child(python, "_datafusion-floor", out_dir, input_dir=events_dir),
        )
    return runs


def summarize(runs, input_rows, cores):
    walls = [run["wall_s"] for run in runs]
    median = statistics.median(walls)
    return {
        "median_wall_s": round(median, 3),
        "min_wall_s": min(walls),
        "max_wall_s": max(walls),
        "median_cpu_s": round(statistics.median(run["cpu_s"] for run in runs), 3),
        "peak_rss_mib": max(run["max_rss_mib"] for run in runs),
        "input_rows_per_s_per_core": round(input_rows / median / cores),
    }


def git_state():
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=REPO_DIR, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def print_table(report):
    config, results = report["config"], report["results"]
    check = report["check"]
    lines = [
        "",
        f"sessionize bench: {config['events']:,} events generated "
        f"({check['input_rows']:,} input rows, {config['days']} days, seed {config['seed']}), "
        f"{config['rounds']} round(s), {report['machine']['cores']} cores",
        "",
        f"{'':<30} {'median s':>9} {'min s':>7} {'max s':>7} {'cpu s':>7} "
        f"{'peak RSS MiB':>12} {'rows/s/core':>12} {'sessionize/it':>13}",
    ]
    base = results["sessionize"]["median_wall_s"]
    for name, result in results.items():
        lines.append(
            f"{result['label']:<30} {result['median_wall_s']:>9.2f} {result['min_wall_s']:>7.2f} "
            f"{result['max_wall_s']:>7.2f} {result['median_cpu_s']:>7.2f} "
            f"{result['peak_rss_mib']:>12,.0f} {result['input_rows_per_s_per_core']:>12,} "
            f"{base / result['median_wall_s']:>13.2f}"
        )
    lines.append(
        "(the duckdb and datafusion rows run in python; python and the import alone take "
        + " and ".join(f"{b['median_wall_s']:.2f} s, {b['peak_rss_mib']:,.0f} MiB ({engine})"
                       for engine, b in report["python_baseline"].items())
        + ")"
    )
    lines.append(
        f"(sessionize wrote {', '.join(results['sessionize']['runs'][-1]['result']['tables'])}; "
        f"duckdb wrote {', '.join(TABLES)})"
    )
    lines.append("")
    lines.append(
        "ratios (median wall time): "
        + ", ".join(f"{k} = {v:.2f}" for k, v in report["ratios"].items())
    )
    same = check["same_sessions"]
    verdict = "PASS" if same["passed"] else "FAIL"
    lines.append(
        f"same sessions: {verdict}: {same['sessionize_sessions']:,} sessions in sessionize, "
        f"{same['duckdb_sessions']:,} in duckdb; "
        + ", ".join(f"{k.replace('_', ' ')}: {same[k]['count']:,}" for k in same
                    if isinstance(same[k], dict))
    )
    for kind, value in same.items():
        if isinstance(value, dict) and value["count"]:
            for example in value["examples"]:
                lines.append(f"    {kind}: {example}")
    differing = {t: c["differing_rows_by_column"] for t, c in check["all_columns"].items()
                 if not c["equal"]}
    lines.append(
        "every column of the 5 tables equal: "
        + ("yes" if check["all_columns_equal"] else f"no: {json.dumps(differing)}")
    )
    machine = report["machine"]
    if machine["other_processes_share"] > 0.05:
        lines.append(
            f"warning: other processes used {machine['other_processes_cpu_s']:,.0f} CPU-seconds "
            f"({machine['other_processes_share']:.0%} of the cores) while the rounds ran: "
            "the times are slower and noisier than on an idle machine"
        )
    lines.append(f"written to {report['json']}")
    print("\n".join(lines), flush=True)


def harness_main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--start", default="2026-01-01",
        help="first day of the generated events: a fixed day in the past, so that no event "
             "is in the future of the run",
    )
    parser.add_argument("--work", default=str(BENCH_DIR / ".work"))
    parser.add_argument("--json", help="default: <work>/results.json")
    parser.add_argument("--sessionize", help="the binary; default: found with cargo metadata")
    parser.add_argument("--cargo", default=os.environ.get("CARGO", "cargo"))
    parser.add_argument("--python", help="a python with duckdb and datafusion; default: a venv")
    parser.add_argument("--memory-limit",
                        help="sessionize run --memory-limit (like 2GiB): the bounded-memory check")
    parser.add_argument("--no-datafusion", action="store_true",
                        help="skip the floor measured with DataFusion's Python bindings")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.events < 1:
        parser.error("--rounds and --events must be at least 1")

    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    json_path = Path(args.json).resolve() if args.json else work / "results.json"
    cores = len(os.sched_getaffinity(0))
    sessionize = find_sessionize(args.sessionize, args.cargo)
    python = ensure_venv(work, args.python)
    versions = run_child(python, "_versions", work)["result"]
    events_dir, generated = ensure_events(
        sessionize, work, args.events, args.days, args.seed, args.start
    )
    out_dir = work / "out"
    out_dir.mkdir(exist_ok=True)
    log(f"warming the page cache: {warm_page_cache(events_dir) / 1e6:,.0f} MB of Parquet")

    runs = contenders(
        sessionize, python, events_dir, out_dir, not args.no_datafusion, args.memory_limit
    )
    measured = {name: [] for name in runs}
    busy_before, rounds_started = busy_cpu_seconds(), time.perf_counter()
    for round_number in range(args.rounds):
        # rotate the order each round, so no contender always runs first or after another
        names = list(runs)
        names = names[round_number % len(names):] + names[:round_number % len(names)]
        for name in names:
            label, run = runs[name]
            result = run()
            measured[name].append(result)
            log(f"round {round_number + 1}/{args.rounds}: {label}: {result['wall_s']:.2f} s, "
                f"{result['max_rss_mib']:,.0f} MiB")

    busy = busy_cpu_seconds() - busy_before
    rounds_wall = time.perf_counter() - rounds_started
    ours = sum(run["cpu_s"] for runs_of_one in measured.values() for run in runs_of_one)
    # what other processes used while the rounds ran, in CPU-seconds and as a share of the cores
    others = max(0.0, busy - ours)
    baseline = {
        engine: [run_child(python, "_baseline", work, engine=engine) for _ in range(3)]
        for engine in ("duckdb", "datafusion")
    }
    log("checking that sessionize and duckdb wrote the same sessions")
    check = run_child(
        python, "_check", work,
        input_glob=f"{events_dir}/**/*.parquet",
        sessionize_output=out_dir / "sessionize",
        duckdb_output=out_dir / "duckdb",
    )["result"]

    results = {}
    for name, (label, _) in runs.items():
        results[name] = {"label": label, **summarize(measured[name], check["input_rows"], cores),
                         "runs": measured[name]}
    session_s = results["sessionize"]["median_wall_s"]
    ratios = {"sessionize/duckdb": session_s / results["duckdb"]["median_wall_s"],
              "sessionize/floor(duckdb)": session_s / results["floor_duckdb"]["median_wall_s"]}
    if "floor_datafusion" in results:
        ratios["sessionize/floor(datafusion)"] = (
            session_s / results["floor_datafusion"]["median_wall_s"]
        )
    report = {
        "config": {"events": args.events, "rounds": args.rounds, "days": args.days,
                   "seed": args.seed, "start": args.start, "timeout_us": TIMEOUT_US,
                   "events_dir": str(events_dir), "generated": generated},
        "machine": {"cores": cores, "cpu": cpu_model(), "platform": platform.platform(),
                    "python": platform.python_version(), **versions,
                    "sessionize": str(sessionize), "git": git_state(),
                    "other_processes_cpu_s": round(others, 1),
                    "other_processes_share": round(others / (rounds_wall * cores), 3),
                    "datafusion_env": {k: v for k, v in os.environ.items()
                                       if k.startswith("DATAFUSION_")}},
        "results": results,
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "python_baseline": {
            engine: {"median_wall_s": statistics.median(b["wall_s"] for b in runs_of_one),
                     "peak_rss_mib": max(b["max_rss_mib"] for b in runs_of_one)}
            for engine, runs_of_one in baseline.items()
        },
        "check": check,
        "json": str(json_path),
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    return 0 if check["same_sessions"]["passed"] else 1


def busy_cpu_seconds():
    """CPU time spent by the whole machine since boot, from /proc/stat (idle excluded)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = map(int, fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in CHILDREN:
        child_main(sys.argv[1:])
    else:
        sys.exit(harness_main(sys.argv[1:]))

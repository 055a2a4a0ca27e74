#!/usr/bin/env python3
"""Regenerates docs/alpha.md: what the fusion weight alpha does, measured with the MiniLM backbone.

Three measurements on the published k-shot splits, setting (a) of docs/results.md (prompts with
the warm-started backbone's new cross-attention trainable, lr 5e-4, batch 8), each run a separate
`lightner` process with one JSON record under --runs, so that the study resumes where it stopped:

1. curve   `lightner train --alpha A --test ...` for every A of --alphas: test micro-F1 against
           alpha, mean ± std over the seeds. The alpha = 0.5 runs are the very runs of
           docs/results.md (same settings) and are read from docs/results-runs when present.
2. learnt  `lightner train --alpha learn --alpha-init 0.5 --alpha-lr 0.05 --test ...`: where alpha ends, its
           trajectory, and the test F1 it gives.
   perdim  `lightner train --alpha learn-per-dim --alpha-init 0.5 --test ...`: one alpha per
           hidden dimension; where they end (mean and spread) and whether the test F1 gains.
3. search  `lightner tune` on the training file alone (3-fold cross-validation, seed 1), once
           with --grid over --alphas, once with --bayes N, and once over the finer --fine-grid:
           which alpha each picks, after how many trainings it had found its best, and whether
           Bayes finds the fine grid's pick with fewer trainings.

    python3 scripts/alpha.py                   # everything (days on 2 cores; resumable)
    python3 scripts/alpha.py --shots 10 --seeds 1 --parts curve
    python3 scripts/alpha.py --only-report     # rebuild the page from the records

The driver only runs the CLI and formats numbers; it never touches tensors.
"""

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results as R  # noqa: E402  (shared helpers: epochs, sentence counts, atomic writes)

ROOT = R.ROOT
MODE = R.MODES["prompts"]
# A learnt alpha's own peak learning rate (train's default). At the prompts' 5e-4 it stays at its
# start: MIT-Movie 10-shot, seed 1, ended at 0.4998 after 210 steps (promptlr-learnt-*.json).
ALPHA_LR = "0.05"
# The searches, in the order they run ("fine" reuses the coarse grid's shared points).
STRATEGIES = ("grid", "bayes", "fine")
STRATEGY_NAME = {"grid": "grid (5 points)", "bayes": "Bayes (GP + EI)", "fine": "grid (11 points)"}


def alpha_list(spec):
    """The alphas of a comma-separated option, rounded as the records' keys are."""
    return [round(float(a), 3) for a in spec.split(",")]


def lower_only(v):
    """A row's (lower, higher, hurt) from the verdict: only a lower alpha beats 0.5 beyond noise."""
    return bool(v[0]) and not v[1]


def higher_only(v):
    return bool(v[1]) and not v[0]


def alpha_tag(a):
    return f"{float(a):.2f}".replace(".", "p")


def run(cmd):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=R.CHILD_ENV)
    if proc.returncode != 0:
        sys.exit(f"run failed ({' '.join(cmd)}):\n{proc.stderr[-3000:]}")
    return proc


def pack_alpha(pack):
    """The `alpha` tensor of a pack's safetensors files (a list of floats), or None."""
    for f in sorted(pack.glob("*.safetensors")):
        raw = f.read_bytes()
        n = struct.unpack("<Q", raw[:8])[0]
        header = json.loads(raw[8:8 + n])
        t = header.get("alpha")
        if t and t["dtype"] == "F32":
            a, b = t["data_offsets"]
            data = raw[8 + n + a:8 + n + b]
            return list(struct.unpack(f"<{len(data) // 4}f", data))
    return None


def quantiles(xs):
    xs = sorted(xs)
    q = lambda p: xs[min(len(xs) - 1, round(p * (len(xs) - 1)))]  # noqa: E731
    return {"min": xs[0], "p25": q(0.25), "median": q(0.5), "p75": q(0.75), "max": xs[-1], "n": len(xs)}


def train_run(args, dataset, shots, seed, flags, rec, what):
    data = Path(args.data) / dataset
    train, test = data / f"{shots}-shot-train.txt", data / "test.txt"
    n = R.count_sentences(train)
    epochs = R.epochs_for(n)
    pack = Path(args.scratch) / (rec.stem + ".pack")
    cmd = [args.lightner, "--threads", str(args.threads), "train", "--model", args.backbone, "--train", str(train), "--test", str(test),
           "--labels", dataset, "--out", str(pack), "--epochs", str(epochs), "--lr", MODE["lr"],
           "--batch-size", str(MODE["batch"]), "--seed", str(seed), "--holdout", "0", *flags]
    print(f"[{time.strftime('%H:%M:%S')}] {dataset} {shots}-shot seed {seed} {what}: {n} sentences, "
          f"{epochs} epochs", flush=True)
    load_before = os.getloadavg()[0]
    run(cmd)
    manifest = json.loads((pack / "manifest.json").read_text())
    log = [json.loads(l) for l in (pack / "metrics.jsonl").read_text().splitlines() if l.strip()]
    record = {
        "dataset": dataset, "shots": shots, "seed": seed, "train_sentences": n, "epochs": epochs,
        "alpha": manifest["model"]["alpha"], "learnt": manifest["model"].get("learn_alpha", False),
        "flags": flags,
        "alpha_trajectory": [e["alpha"] for e in log if "alpha" in e],
        "test": manifest["metrics"]["test"], "train_seconds": sum(e["seconds"] for e in log),
        "load": [load_before, os.getloadavg()[0]], "threads": args.threads,
        "glibc_tunables": R.CHILD_ENV["GLIBC_TUNABLES"],
        "code": R.code_version(),
        "cpu": R.cpu_name(),
    }
    if manifest["model"].get("alpha_per_dim"):
        dims = pack_alpha(pack)
        record["per_dim"] = True
        record["alpha_dims"] = quantiles(dims) if dims else None
    R.write_atomic(rec, json.dumps(record, indent=1))
    shutil.rmtree(pack, ignore_errors=True)
    print(f"    alpha {record['alpha']:.3f}, test micro-F1 {record['test']['f1']:.4f}", flush=True)


def tune_run(args, dataset, shots, strategy, rec):
    train = Path(args.data) / dataset / f"{shots}-shot-train.txt"
    n = R.count_sentences(train)
    # The folds train on 2/3 of the file: the same number of steps per epoch as 2/3 of a full run.
    epochs = R.epochs_for(n)
    # Next to the records, not in the scratch folder: tune's trial log lets a later session resume
    # a search that an ended session interrupted (best.pack inside is ignored by git).
    out = Path(args.runs) / (rec.stem + ".tune")
    coarse = alpha_list(args.alphas)
    if strategy == "fine":
        # Only the points the coarse grid lacks: a training is deterministic (seed, folds and alpha
        # fix it; the Bayes runs reproduced the grid's F1 at 0, 0.5 and 1 to the last digit), so the
        # shared points are read from the coarse grid's record below instead of being trained again.
        flags = ["--grid", ",".join(f"{a:g}" for a in alpha_list(args.fine_grid) if a not in coarse)]
    else:
        flags = ["--grid", args.alphas] if strategy == "grid" else ["--bayes", str(args.bayes)]
    cmd = [args.lightner, "-q", "--threads", str(args.threads), "tune", "--model", args.backbone, "--train", str(train), "--labels", dataset,
           "--out", str(out), "--seeds", "1", "--folds", "3", "--epochs", str(epochs), "--lr", MODE["lr"],
           "--batch-size", str(MODE["batch"]), *flags]
    print(f"[{time.strftime('%H:%M:%S')}] tune {strategy} on {dataset} {shots}-shot ({n} sentences)", flush=True)
    run(cmd)
    lines = [json.loads(l) for l in (out / "trials.jsonl").read_text().splitlines() if l.strip()]
    trials = [l for l in lines if l["kind"] == "trial"]
    units = [l for l in lines if l["kind"] == "unit"]
    rows = []
    for t in trials:
        f1 = [u["f1"] for u in units if u["trial"] == t["trial"]]
        m, s = R.mean_std(f1)
        rows.append({"trial": t["trial"], "origin": t["origin"], "alpha": t["config"]["alpha"], "f1": m, "std": s,
                     "seconds": sum(u["seconds"] for u in units if u["trial"] == t["trial"])})
    if strategy == "fine":
        coarse_rec = json.loads((Path(args.runs) / f"search-{dataset}-{shots}shot-grid.json").read_text())
        shared = [dict(t, origin="grid (coarse run)") for t in coarse_rec["trials"]
                  if round(t["alpha"], 3) in alpha_list(args.fine_grid)]
        # The order a single grid run over the fine points would take: ascending alpha.
        rows = sorted(rows + shared, key=lambda t: t["alpha"])
        for i, t in enumerate(rows):
            t["trial"] = i
    R.write_atomic(rec, json.dumps({"dataset": dataset, "shots": shots, "strategy": strategy, "trials": rows,
                                    "trainings_per_trial": 3, "load": os.getloadavg()[0], "threads": args.threads,
                                    "glibc_tunables": R.CHILD_ENV["GLIBC_TUNABLES"],
                                    "code": R.code_version(), "cpu": R.cpu_name()}, indent=1))
    shutil.copy(out / "report.md", rec.with_suffix(".md"))
    shutil.rmtree(out / "best.pack", ignore_errors=True)


def curve_records(args):
    """Curve records by (dataset, shots, alpha, seed), alpha = 0.5 from docs/results-runs."""
    out = {}
    for f in Path(args.runs).glob("curve-*.json"):
        r = json.loads(f.read_text())
        out[(r["dataset"], r["shots"], round(r["alpha"], 3), r["seed"])] = r
    for f in Path(args.results_runs).glob("*-prompts-seed*.json"):
        r = json.loads(f.read_text())
        out.setdefault((r["dataset"], r["shots"], 0.5, r["seed"]), r)
    return out


def fmt(xs):
    if not xs:
        return "—"
    m, s = R.mean_std(xs)
    return f"{m:.1f} ± {s:.1f}" if len(xs) > 1 else f"{m:.1f}"


def report(args):
    alphas = alpha_list(args.alphas)
    curve = curve_records(args)
    learnt = [json.loads(f.read_text()) for f in sorted(Path(args.runs).glob("learnt-*.json"))]
    perdim = [json.loads(f.read_text()) for f in sorted(Path(args.runs).glob("perdim-*.json"))]
    search = [json.loads(f.read_text()) for f in sorted(Path(args.runs).glob("search-*.json"))]
    cells = [(d, k) for k in args.shots for d in args.datasets]
    perdim_cells = [(d, k) for d, k in cells if k in args.perdim_shots]
    want = (len(cells) * len(args.seeds) * (len(alphas) + 1) + len(perdim_cells) * len(args.seeds)
            + len(args.datasets) * len(STRATEGIES))
    have = (sum(1 for (d, k, a, s) in curve if (d, k) in cells and a in alphas and s in args.seeds)
            + len(learnt) + len(perdim) + len(search))
    L = ["# The fusion weight alpha, measured", "",
         "Generated by `python3 scripts/alpha.py` (resumable; `--only-report` rebuilds this page from the "
         "records in `docs/alpha-runs`). Do not edit by hand: the prose lives in the script.", "",
         (f"**Status: complete** — all {want} runs." if have >= want else
          f"**Status: incomplete** — {have} of {want} runs done; `python3 scripts/alpha.py` resumes. "
          "Cells without runs show a dash; read partial rows as partial."), "",
         "The pointer scores each decoder state against `alpha * H_enc + (1 - alpha) * E[word]` for every "
         "source word: alpha = 0 is the plain word embedding, 1 the contextual hidden state, 0.5 the "
         "reference's fixed value. Backbone: MiniLM-L6 warm-started as encoder-decoder (see "
         "docs/results.md for why no BART is measured here); setting (a): prompts + cross-attention, "
         f"lr {MODE['lr']}, batch {MODE['batch']}, epochs as docs/results.md, last epoch kept, full test sets.", "",
         "## 1. Test micro-F1 against alpha", "",
         "Mean ± sample std over seeds (the count of seeds is in the last column); the best mean of a row in bold.", "",
         "| dataset | shots | " + " | ".join(f"α={a:g}" for a in alphas) + " | learnt α (end) | F1 with learnt α | seeds |",
         "|---|---|" + "---|" * len(alphas) + "---|---|---|"]
    optimum = {}
    learnt_end = {}
    row_means = {}
    for d, k in cells:
        vals = {a: [100 * curve[(d, k, a, s)]["test"]["f1"] for s in args.seeds if (d, k, a, s) in curve] for a in alphas}
        means = {a: R.mean_std(v)[0] for a, v in vals.items() if v}
        if not means:
            continue
        row_means[(d, k)] = means
        # An optimum needs a curve: with fewer than two alphas measured, nothing is marked.
        best = max(means, key=means.get) if len(means) > 1 else None
        if best is not None:
            optimum[(d, k)] = (best, len(means) == len(alphas), min(len(v) for v in vals.values() if v))
        lr = [r for r in learnt if (r["dataset"], r["shots"]) == (d, k)]
        cols = [f"**{fmt(vals[a])}**" if a == best else fmt(vals[a]) for a in alphas]
        la = R.mean_std([r["alpha"] for r in lr]) if lr else None
        if la:
            learnt_end[(d, k)] = (la[0], R.mean_std([100 * r["test"]["f1"] for r in lr])[0], len(lr))
        seeds = max(len(v) for v in vals.values())
        L.append(f"| {d} | {k} | " + " | ".join(cols) +
                 f" | {(f'{la[0]:.3f} ± {la[1]:.3f}' if len(lr) > 1 else f'{la[0]:.3f}') if la else '—'} | "
                 f"{fmt([100 * r['test']['f1'] for r in lr])} | {seeds} |")
    L += ["", "Learnt alpha starts at 0.5 and trains with the prompts (a scalar through a sigmoid) on its "
          f"own peak learning rate, `--alpha-lr {ALPHA_LR}`; its per-epoch trajectory is in each record's "
          "`alpha_trajectory`. At the prompts' learning rate (5e-4) it does not move: on MIT-Movie "
          "10-shot, seed 1, it ended at 0.4998 after 210 steps (test F1 14.0; "
          "`docs/alpha-runs/promptlr-learnt-mit-movie-10shot-seed1.json`), because Adam moves a "
          "parameter by about its learning rate per step, whatever the gradient.", ""]
    L += ["### One alpha per hidden dimension (`--alpha learn-per-dim`)", "",
          "Each of the d = 384 dimensions has its own alpha, all starting at 0.5. Compared with the "
          "scalar learnt alpha of the same seeds; the spread is over the dimensions of each run "
          "(median of the runs' quartiles). Measured at "
          + ", ".join(f"{k}" for k in args.perdim_shots) + " shots only (`--perdim-shots`): the other rows "
          "spend the time on the curves.", "",
          "| dataset | shots | F1 scalar learnt | F1 per-dimension | alpha mean | alpha min / p25 / median / p75 / max | seeds |",
          "|---|---|---|---|---|---|---|"]
    rows = 0
    for d, k in cells:
        pr = [r for r in perdim if (r["dataset"], r["shots"]) == (d, k)]
        if not pr:
            continue
        rows += 1
        sl = [r for r in learnt if (r["dataset"], r["shots"]) == (d, k) and r["seed"] in {p["seed"] for p in pr}]
        q = [r["alpha_dims"] for r in pr if r.get("alpha_dims")]
        med = lambda key: sorted(x[key] for x in q)[len(q) // 2]  # noqa: E731
        spread = " / ".join(f"{med(key):.3f}" for key in ("min", "p25", "median", "p75", "max")) if q else "—"
        L.append(f"| {d} | {k} | {fmt([100 * r['test']['f1'] for r in sl])} | "
                 f"{fmt([100 * r['test']['f1'] for r in pr])} | {R.mean_std([r['alpha'] for r in pr])[0]:.3f} | "
                 f"{spread} | {len(pr)} |")
    if not rows:
        L.append("| — | | | | | | 0 |")
    L.append("")
    L += ["## 2. Where the optimum lies, and how it moves with the shots", "",
          "Each alpha against the reference's 0.5, paired by seed (a seed fixes the initialisation and "
          "the batch order, so the pair differs only in alpha): the mean difference in F1 points ± its "
          "std, and whether it is **separated** from seed noise by a two-sided paired t-test at 5 % "
          f"(|t| above {T_CRIT[2]} for 3 seeds). The best alpha of a row is picked after seeing the "
          "numbers, so its test flatters it; alpha = 0 and 1 are fixed in advance.", "",
          "| dataset | shots | best α | α=0 − α=0.5 | α=1 − α=0.5 | best − α=0.5 | seeds |",
          "|---|---|---|---|---|---|---|"]
    compared = {}
    for d, k in cells:
        if (d, k) not in optimum:
            continue
        best = optimum[(d, k)][0]
        cmp = {a: paired(curve, d, k, a, 0.5, args.seeds) for a in alphas if a != 0.5}
        compared[(d, k)] = cmp
        cell = lambda a: "—" if a == 0.5 or a not in cmp or not cmp[a][0] else fmt_diff(*cmp[a])  # noqa: E731
        L.append(f"| {d} | {k} | {best:g} | {cell(0.0)} | {cell(1.0)} | {cell(best)} | "
                 f"{optimum[(d, k)][2]} |")
    L.append("")
    for d in args.datasets:
        row = [(k, optimum[(d, k)]) for k in args.shots if (d, k) in optimum]
        if row:
            L.append(f"* {d}: " + ", ".join(
                f"{k}-shot α = {b:g}{'' if full else ' (row incomplete)'}"
                f"{' (one seed per alpha: not separated from seed noise)' if n < 2 else ''}"
                for k, (b, full, n) in row))
    if not optimum:
        L.append("No row has two alphas measured yet.")
    L.append("")
    L += figure(args, alphas, curve)
    L += ["", "## 3. Grid against Bayesian search (`lightner tune`, 3-fold cross-validation on the "
          "training file, seed 1)", "",
          "CV F1 is the mean over the 3 folds ± its std across folds; a search spends all its "
          "trainings before it can name its pick, the last column says when the pick was first seen.", "",
          "| dataset | shots | strategy | trials | trainings spent | best α | CV F1 at best | trainings until its best |",
          "|---|---|---|---|---|---|---|---|"]
    for r in sorted(search, key=lambda r: (r["dataset"], r["shots"], STRATEGIES.index(r["strategy"]))):
        tr = r["trials"]
        if not tr:
            continue
        b, until = search_pick(r)
        L.append(f"| {r['dataset']} | {r['shots']} | {STRATEGY_NAME[r['strategy']]} | {len(tr)} | "
                 f"{len(tr) * r['trainings_per_trial']} | {b['alpha']:g} | "
                 f"{100 * b['f1']:.1f} ± {100 * b['std']:.1f} | {until} |")
    L += ["", "Each search's full table is next to its record (`docs/alpha-runs/search-*.md`).", ""]
    L += verdict(args, alphas, optimum, compared, learnt_end, search, row_means, curve)
    R.write_atomic(Path(args.out), "\n".join(L) + "\n")
    print(f"wrote {args.out}")


# Two-sided 5 % critical values of Student's t by degrees of freedom (seeds − 1).
T_CRIT = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def paired(curve, d, k, a, b, seeds):
    """F1 differences (points) of alpha a minus alpha b over the seeds that have both, and whether
    they are separated from zero: +1 (a better), -1 (a worse), 0 (not separated), None (< 2 pairs)."""
    diffs = [100 * (curve[(d, k, a, s)]["test"]["f1"] - curve[(d, k, b, s)]["test"]["f1"])
             for s in seeds if (d, k, a, s) in curve and (d, k, b, s) in curve]
    if len(diffs) < 2:
        return diffs, None
    m, sd = R.mean_std(diffs)
    t = m / (sd / len(diffs) ** 0.5) if sd > 0 else (float("inf") if m else 0.0) * (1 if m >= 0 else -1)
    crit = T_CRIT.get(len(diffs) - 1, 2.0)
    return diffs, (1 if t > crit else -1 if t < -crit else 0)


def fmt_diff(diffs, sep):
    m, sd = R.mean_std(diffs)
    txt = f"{m:+.1f} ± {sd:.1f}" if len(diffs) > 1 else f"{m:+.1f}"
    return f"**{txt}**" if sep else txt


def figure(args, alphas, curve):
    """docs/alpha-curves.svg: F1 against alpha, a panel per dataset, a line per shot count (mean ±
    std over seeds). Needs matplotlib; without it the page keeps the last figure made."""
    svg = Path(args.out).with_name("alpha-curves.svg")
    plt = R.pyplot()
    if plt is None:
        return ["![F1 against alpha](alpha-curves.svg)", ""] if svg.exists() else []
    fig, axes = plt.subplots(1, len(args.datasets), figsize=(4.2 * len(args.datasets), 3.4), sharey=False)
    axes = axes if len(args.datasets) > 1 else [axes]
    drawn = False
    for ax, d in zip(axes, args.datasets):
        for k in args.shots:
            pts = [(a, [100 * curve[(d, k, a, s)]["test"]["f1"] for s in args.seeds if (d, k, a, s) in curve])
                   for a in alphas]
            pts = [(a, R.mean_std(v)) for a, v in pts if v]
            if len(pts) < 2:
                continue
            drawn = True
            ax.errorbar([a for a, _ in pts], [m for _, (m, _) in pts], yerr=[sd for _, (_, sd) in pts],
                        marker="o", capsize=3, label=f"{k}-shot")
        ax.set_title(d)
        ax.set_xlabel("alpha (0 = word embedding, 1 = hidden state)")
        ax.set_xticks(alphas)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if ax is axes[0]:
            ax.set_ylabel("test micro-F1 (%)")
        if ax.lines:
            ax.legend(fontsize=8)
    if not drawn:
        plt.close(fig)
        return []
    fig.tight_layout()
    R.save_svg(plt, fig, svg)
    return ["![F1 against alpha, mean ± std over seeds](alpha-curves.svg)", ""]


def search_pick(r):
    """A search record's pick: its best trial and the trainings spent until that trial."""
    b = max(r["trials"], key=lambda t: t["f1"])
    return b, (b["trial"] + 1) * r["trainings_per_trial"]


def search_verdict(search, row_means, curve, seeds):
    """What the searches of section 3 did, per training file: which alpha each picked, after how
    many trainings, what that pick is worth on the test set (section 1's means), and whether Bayes
    found the 11-point grid's pick with fewer trainings."""
    by_cell = {}
    for r in search:
        if r["trials"]:
            b, until = search_pick(r)
            by_cell.setdefault((r["dataset"], r["shots"]), {})[r["strategy"]] = (
                round(b["alpha"], 3), until, len(r["trials"]) * r["trainings_per_trial"], b, r["trials"])
    L, tally = [], []
    for (d, k), st in sorted(by_cell.items()):
        if "grid" not in st or "bayes" not in st:
            continue
        (ag, ng, tg, _, _), (ab, nb, tb, bb, _) = st["grid"], st["bayes"]
        if ag == ab:
            found = (f"both picked alpha {ag:g}; the grid had it after {ng} of its {tg} trainings, Bayes after {nb} "
                     f"of {tb}")
        else:
            found = f"the grid picked alpha {ag:g} (after {ng} of {tg} trainings), Bayes {ab:g} (after {nb} of {tb})"
        means = row_means.get((d, k), {})
        worth = ""
        if ag in means and 0.5 in means:
            m = means[ag]
            best = max(means, key=means.get)
            if ag == 0.5:
                worth = "; on the test set the pick is the reference's own value" + (" and the test optimum" if best == ag else "")
            else:
                worth = (f"; on the test set the grid's pick has mean F1 {m:.1f} against {means[0.5]:.1f} at 0.5"
                         + (" and is the test optimum" if best == ag else ""))
            if best != ag:
                worth += f" (test optimum: alpha {best:g}, {means[best]:.1f} against {m:.1f})"
        L.append(f"* {d} {k}-shot: {found}{worth}.")
        if "fine" in st:
            af, _, tf, bf, trials = st["fine"]
            gap = 100 * (bf["f1"] - bb["f1"])
            if ab == af:
                fine = f"Bayes's pick is the 11-point grid's too, found with {tb} trainings instead of {tf}"
            elif gap <= 0:
                fine = (f"Bayes's alpha {ab:g} scores {-gap:.1f} CV points above the 11-point grid's best "
                        f"(alpha {af:g}), with {tb} trainings instead of {tf}")
            else:
                fine = (f"the 11-point grid picks alpha {af:g}, {gap:.1f} CV points above Bayes's {ab:g} "
                        f"(fold std {100 * bf['std']:.1f}), after {tf} trainings against Bayes's {tb}")
            pick_f1 = [100 * curve[(d, k, af, s)]["test"]["f1"] for s in seeds if (d, k, af, s) in curve]
            if pick_f1:
                fine += (f"; alpha {af:g} has test F1 {fmt(pick_f1)}"
                         + (f" against {means[0.5]:.1f} at 0.5" if 0.5 in means and af != 0.5 else ""))
            elif af != ab:
                fine += f"; alpha {af:g} has no test runs (section 1 measures {', '.join(f'{a:g}' for a in sorted(means))})"
            by_alpha = sorted(trials, key=lambda t: t["alpha"])
            jump = max(abs(x["f1"] - y["f1"]) for x, y in zip(by_alpha, by_alpha[1:]))
            L.append(f"  * against the finer grid: {fine}. Neighbouring points of that grid (0.1 apart) differ "
                     f"by up to {100 * jump:.1f} CV points.")
            tally.append((ab == af or gap <= 0, 100 * bf["std"], gap))
    if not L:
        return []
    L = ["**Searches** (section 3, 3-fold cross-validation on the training file alone):", ""] + L + [
        "",
        "Bayes starts from a fixed design, alpha = 0, 1 and 0.5, before its expected-improvement trials; "
        "the 5-point grid visits 0, 0.25, 0.5, 0.75, 1 in that order. With 5 trials each they spend the same "
        "budget, and an optimum at 0 or 0.5 is reached at the same trial by both; only an optimum at 1 "
        "(or between grid points) can favour Bayes. The 11-point grid (0, 0.1, ..., 1: 33 trainings) is "
        "the finer search Bayes would have to beat on cost; its points at 0, 0.5 and 1 are read from the "
        "5-point grid's run (a training is deterministic: the Bayes runs reproduced those F1 values to the "
        "last digit), the 8 others are one `lightner tune --grid` run (`search-*-fine.md`).", ""]
    if tally:
        matched = sum(1 for ok, _, _ in tally if ok)
        close = sum(1 for ok, sd, g in tally if ok or g < sd)
        L.append(f"**Bayes against the finer grid:** in {matched} of {len(tally)} training files Bayes's "
                 "5 trials (15 trainings) found an alpha at least as good in cross-validation as the "
                 "11-point grid's (33 trainings)" + (
                     "; where the finer grid did better, its lead was "
                     + ", ".join(f"{g:.1f} points{' (inside' if g < sd else ' (beyond'} the fold std of {sd:.1f})"
                                 for ok, sd, g in tally if not ok)
                     if matched < len(tally) else "") + ". "
                 + (f"Within the folds' spread, Bayes matched the finer grid in {close} of {len(tally)} files with "
                    "less than half its trainings: the finer grid's extra points never moved the "
                    "cross-validated optimum by more than the folds' spread." if close == len(tally) else
                    f"Within the folds' spread, Bayes matched the finer grid in {close} of {len(tally)} files."))
        L.append("")
    return L


def mentions(path):
    """(words lower-cased, type) of every entity of a BIO file: a maximal B-X I-X* span (the data
    README's counting rule). Text only: this study never touches tensors."""
    out, words, typ = [], [], None
    for line in list(Path(path).read_text(encoding="utf-8").splitlines()) + [""]:
        parts = line.split()
        tag = parts[-1] if len(parts) >= 2 else "O"
        if words and not (tag.startswith("I-") and tag[2:] == typ):
            out.append((" ".join(words), typ))
            words, typ = [], None
        if tag.startswith("B-") or tag.startswith("I-"):
            if not words:
                typ = tag[2:]
            words.append(parts[0].lower())
    return out


def ambiguity(data, dataset):
    """How much a dataset's types hang on context: the share of entity mentions (full train and
    test files) whose words also occur as an entity of another type. In ATIS, "boston" is a
    departure or an arrival city by the words around it alone."""
    ms = mentions(Path(data) / dataset / "train.txt") + mentions(Path(data) / dataset / "test.txt")
    types = {}
    for w, t in ms:
        types.setdefault(w, set()).add(t)
    return len(ms), sum(1 for w, _ in ms if len(types[w]) > 1) / len(ms)


def advice_reading(args, side, optimum, compared, search):
    """The advice's three claims, each held against the complete rows: scarce data wants a lower
    alpha (so the preference for it should fade with more shots), context-heavy types want a higher
    one, and a search beats the fixed 0.5. Returns lines of the page."""
    L = ["**The advice, claim by claim.** How much each dataset's types hang on context is measured "
         "on its full train and test files (text only): the share of entity mentions whose words also "
         "occur as an entity of another type.", "",
         "| dataset | entity mentions | share whose words carry another type too | best α by shots | "
         "rows where a lower α beats 0.5 | rows where a higher α beats 0.5 |", "|---|---|---|---|---|---|"]
    amb = {d: ambiguity(args.data, d) for d in args.datasets}
    rows = lambda d, pick: ", ".join(f"{k}-shot" for k in args.shots if (d, k) in side and pick(side[(d, k)])) or "none"  # noqa: E731
    for d in args.datasets:
        best = ", ".join(f"{optimum[(d, k)][0]:g} ({k})" for k in args.shots if (d, k) in side)
        L.append(f"| {d} | {amb[d][0]} | {100 * amb[d][1]:.0f} % | {best or '—'} | "
                 f"{rows(d, lower_only)} | {rows(d, higher_only)} |")
    L.append("")
    # Scarce data: the claim predicts a lower alpha winning at the fewest shots, and its lead fading
    # as the shots grow. A lead "persists" if it is still separated from seed noise at the most shots
    # measured, or at least half its first size; not being separated alone is no evidence it is gone.
    first = {d: min((k for k in args.shots if (d, k) in side), default=None) for d in args.datasets}
    wins = [d for d in args.datasets if first[d] is not None and lower_only(side[(d, first[d])])]
    tested = [d for d in args.datasets if first[d] is not None]
    trail, persists = [], []
    for d in wins:
        a = max(side[(d, first[d])][0], key=lambda x: R.mean_std(compared[(d, first[d])][x][0])[0])
        leads = [(k, compared[(d, k)][a]) for k in args.shots if (d, k) in side]
        trail.append(f"{d}, alpha {a:g} against 0.5: " + ", ".join(f"{fmt_diff(*c)} ({k})" for k, c in leads))
        d0, dn = R.mean_std(leads[0][1][0])[0], R.mean_std(leads[-1][1][0])[0]
        if len(leads) > 1:
            persists.append(leads[-1][1][1] == 1 or dn >= d0 / 2)
    if not tested:
        scarce = "is not tested yet: no complete row"
    else:
        scarce = (f"at the fewest shots a lower alpha beats 0.5 beyond seed noise in {len(wins)} of {len(tested)} "
                  "datasets")
        if trail:
            scarce += " (" + "; ".join(trail) + ")"
        if persists and all(persists):
            scarce += (". Where it wins, its lead persists with more shots, so the preference belongs to the "
                       "dataset, not to the scarcity of data: the claim does not hold here")
        elif persists and not any(persists):
            scarce += ". Where it wins, its lead fades with more shots, as the claim predicts"
        elif persists:
            scarce += ". Its lead fades with more shots in some datasets and persists in others"
        elif wins:
            scarce += ". How its lead moves with more shots is not measured yet"
        # The claim's opposite: a lower alpha that wins only once there is more data.
        late = [(d, [k for k in args.shots if (d, k) in side and lower_only(side[(d, k)])])
                for d in tested if d not in wins]
        if any(ks for _, ks in late):
            scarce += "; " + "; ".join(f"in {d} a lower alpha wins only with more shots ({', '.join(f'{k}' for k in ks)}), "
                                       "the opposite of the claim's direction" for d, ks in late if ks)
        never = [d for d, ks in late if not ks]
        if never:
            scarce += f"; in {', '.join(never)} a lower alpha wins with no number of shots"
    ctx = max(args.datasets, key=lambda d: amb[d][1])
    ctx_rows = [k for k in args.shots if (ctx, k) in side]
    ctx_high = [k for k in ctx_rows if higher_only(side[(ctx, k)])]
    if not ctx_rows:
        context = f"is not tested yet ({ctx}, the most context-bound dataset, has no complete row)"
    elif ctx_high:
        context = (f"holds on {ctx}, the most context-bound dataset ({100 * amb[ctx][1]:.0f} % of its mentions), "
                   f"at {', '.join(f'{k}' for k in ctx_high)} shots")
    else:
        context = (f"finds no support: {ctx}, the most context-bound dataset ({100 * amb[ctx][1]:.0f} % of its "
                   f"mentions against {', '.join(f'{100 * amb[d][1]:.0f} %' for d in args.datasets if d != ctx)}), "
                   f"has no row where a higher alpha beats 0.5 beyond seed noise "
                   f"({len(ctx_rows)} complete row{'s' if len(ctx_rows) > 1 else ''})")
        ctx_low = [k for k in ctx_rows if lower_only(side[(ctx, k)])]
        if ctx_low:
            context += (f"; it prefers a lower alpha beyond seed noise at {', '.join(f'{k}' for k in ctx_low)} shots, "
                        "the opposite of the claim")
    # Searching: a search's pick other than 0.5 that beats 0.5 on the test set beyond seed noise.
    gains, flat = [], []
    for r in search:
        if r["strategy"] != "grid" or not r["trials"] or (r["dataset"], r["shots"]) not in compared:
            continue
        a = round(search_pick(r)[0]["alpha"], 3)
        cmp = compared[(r["dataset"], r["shots"])].get(a)
        if a != 0.5 and cmp and cmp[1] == 1:
            gains.append(f"{r['dataset']} {r['shots']}-shot (alpha {a:g}, {fmt_diff(*cmp)} points)")
        else:
            flat.append(f"{r['dataset']} {r['shots']}-shot")
    if gains:
        searching = (f"pays where alpha matters: the search's pick beats 0.5 on the test set beyond seed noise in "
                     f"{'; '.join(gains)}" + (f", and costs nothing but trainings in {', '.join(flat)}" if flat else ""))
    elif flat:
        searching = f"gained nothing beyond seed noise in {', '.join(flat)}"
    else:
        searching = "is not measured yet"
    L += [f"* *Scarce data wants a lower alpha*: {scarce}.",
          f"* *Context-heavy types want a higher alpha*: {context}.",
          f"* *Search alpha rather than fix it*: {searching}.", ""]
    return L


def verdict(args, alphas, optimum, compared, learnt_end, search, row_means, curve):
    """The reading of the numbers, derived from them: which rows prefer a lower or higher alpha than
    0.5 beyond seed noise, how that moves with the shots, and what learnt alpha and the searches did."""
    L = ["## Does the standing advice hold here?", "",
         "The advice: with little in-domain data lean on the word embedding (lower alpha), where context "
         "matters lean on the hidden state (higher alpha), and search alpha rather than fix it. The "
         "reading below is computed from the tables above each time the page is made; a row counts "
         "only when all its alphas have at least two seeds.", ""]
    side = {}
    for (d, k), cmp in compared.items():
        if not optimum[(d, k)][1] or optimum[(d, k)][2] < 2:
            continue
        lower = [a for a in alphas if a < 0.5 and cmp[a][1] == 1]
        higher = [a for a in alphas if a > 0.5 and cmp[a][1] == 1]
        hurt = [a for a in alphas if a != 0.5 and cmp[a][1] == -1]
        side[(d, k)] = (lower, higher, hurt)
    if not side:
        return L + ["No row is complete yet: no verdict.", ""]
    name = lambda dk: f"{dk[0]} {dk[1]}-shot"  # noqa: E731
    al = lambda xs: ", ".join(f"{a:g}" for a in xs)  # noqa: E731
    for dk, (lower, higher, hurt) in side.items():
        if lower and not higher:
            txt = f"a lower alpha beats 0.5 beyond seed noise (alpha {al(lower)})"
        elif higher and not lower:
            txt = f"a higher alpha beats 0.5 beyond seed noise (alpha {al(higher)})"
        elif lower and higher:
            txt = f"both a lower ({al(lower)}) and a higher ({al(higher)}) alpha beat 0.5"
        else:
            txt = "no alpha is separated from 0.5 by more than seed noise"
        if hurt:
            txt += f"; alpha {al(hurt)} is worse than 0.5 beyond seed noise"
        L.append(f"* **{name(dk)}**: {txt}.")
    L.append("")
    n_low = sum(1 for v in side.values() if lower_only(v))
    n_high = sum(1 for v in side.values() if higher_only(v))
    n_flat = sum(1 for lo, hi, _ in side.values() if not lo and not hi)
    rows_word = lambda n: f"{n} row" if n == 1 else f"{n} rows"  # noqa: E731
    L.append(f"**In short:** of {rows_word(len(side))} complete, {n_low} {'prefers' if n_low == 1 else 'prefer'} "
             f"a lower alpha than 0.5, {n_high} a higher one, and in {n_flat} no alpha beats 0.5 beyond "
             "seed noise.")
    shots_seen = sorted({k for _, k in side})
    if len(shots_seen) < 2:
        L.append(f"All complete rows are {shots_seen[0]}-shot, so how the optimum moves with more data "
                 "is not measured yet, and the part of the advice about *scarce* data cannot be tested "
                 "against less scarce data here.")
    L.append("")
    L += advice_reading(args, side, optimum, compared, search)
    rows = [(dk, v) for dk, v in learnt_end.items() if dk in optimum and v[2] >= 2]
    if rows:
        ends = ", ".join(f"{v[0]:.2f} ({name(dk)}; best alpha {optimum[dk][0]:g})" for dk, v in rows)
        near = [dk for dk, v in rows if abs(v[0] - optimum[dk][0]) <= 0.125]
        off = [(dk, v) for dk, v in rows if optimum[dk][0] != 0.5]
        away = [dk for dk, v in off if (v[0] - 0.5) * (optimum[dk][0] - 0.5) < 0]
        reach = max(abs(v[0] - 0.5) for _, v in rows)
        L.append(f"**Learnt alpha** ends at {ends}. It ends within half a grid step (0.125) of the row's best "
                 f"alpha in {len(near)} of {len(rows)} rows"
                 + (f" ({', '.join(name(dk) for dk in near)})" if near else "")
                 + (f"; of the {len(off)} rows whose best alpha is not 0.5, it moved away from it in {len(away)}"
                    + (f" ({', '.join(name(dk) for dk in away)})" if away else "") if off else "")
                 + f". It never moved farther than {reach:.2f} from its start, 0.5"
                 + (", so it cannot reach an optimum at 0 or 1." if reach < 0.25 else "."))
        L.append("")
    L += search_verdict(search, row_means, curve, args.seeds)
    return L


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backbone", default=str(ROOT / ".cache/backbones/all-MiniLM-L6-v2"))
    p.add_argument("--data", default=str(ROOT.parent / "shared/data"))
    p.add_argument("--lightner", default=R.DEFAULT_BIN)
    p.add_argument("--datasets", default="mit-movie,mit-restaurant,atis")
    p.add_argument("--shots", default="10,20,50")
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--alphas", default="0,0.25,0.5,0.75,1")
    p.add_argument("--bayes", type=int, default=5, help="trials of the Bayesian search (3 are its design)")
    p.add_argument("--fine-grid", default="0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1",
                   help="the finer grid that Bayes is measured against (a superset of the shared points of --alphas)")
    p.add_argument("--parts", default="curve,learnt,perdim,search")
    p.add_argument("--perdim-shots", default="10",
                   help="shot counts that get the per-dimension runs (10 only by default: at 10 shots, 3 seeds "
                        "each, it did not beat the scalar alpha clearly, see the page; the budget goes to the curves)")
    p.add_argument("--runs", default=str(ROOT / "docs/alpha-runs"))
    p.add_argument("--results-runs", default=str(ROOT / "docs/results-runs"))
    p.add_argument("--scratch", default=str(ROOT / ".cache/alpha"))
    p.add_argument("--out", default=str(ROOT / "docs/alpha.md"))
    p.add_argument("--threads", type=int, default=1, help="threads per run (see scripts/results.py)")
    p.add_argument("--only-report", action="store_true")
    args = p.parse_args()
    args.datasets = args.datasets.split(",")
    args.shots = [int(s) for s in args.shots.split(",")]
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.perdim_shots = [int(s) for s in args.perdim_shots.split(",") if s]
    parts = args.parts.split(",")
    for d in (args.runs, args.scratch):
        Path(d).mkdir(parents=True, exist_ok=True)
    if not args.only_report:
        if args.lightner == R.DEFAULT_BIN:
            subprocess.run(["cargo", "build", "--release", "--locked", "-p", "lightner-cli"], cwd=ROOT, check=True)
        if not (Path(args.backbone) / "model.safetensors").is_file():
            subprocess.run(["bash", str(ROOT / "scripts/fetch-minilm.sh"), args.backbone], check=True)
        # The cheapest cells first, one seed of a whole row before the next seed.
        for shots in args.shots:
            if "search" in parts and shots == args.shots[0]:
                for d in args.datasets:
                    for strategy in STRATEGIES:
                        rec = Path(args.runs) / f"search-{d}-{shots}shot-{strategy}.json"
                        if not rec.exists():
                            tune_run(args, d, shots, strategy, rec)
                    # The 11-point grid may pick an alpha between the curve's points: measure its
                    # test F1 with the curve's seeds, so the verdict can say what the pick is worth.
                    fine = Path(args.runs) / f"search-{d}-{shots}shot-fine.json"
                    if fine.exists():
                        a = round(search_pick(json.loads(fine.read_text()))[0]["alpha"], 3)
                        if a not in alpha_list(args.alphas):
                            for seed in args.seeds:
                                rec = Path(args.runs) / f"curve-{d}-{shots}shot-a{alpha_tag(a)}-seed{seed}.json"
                                if not rec.exists():
                                    train_run(args, d, shots, seed, ["--alpha", str(a)], rec, f"alpha {a:g} (the fine grid's pick)")
            for seed in args.seeds:
                for d in args.datasets:
                    if "curve" in parts:
                        # alpha = 0.5 last: scripts/results.py, running beside, makes those runs.
                        alphas = sorted(alpha_list(args.alphas), key=lambda a: a == 0.5)
                        for a in alphas:
                            rec = Path(args.runs) / f"curve-{d}-{shots}shot-a{alpha_tag(a)}-seed{seed}.json"
                            # Read afresh: scripts/results.py, running beside, may have made the
                            # alpha = 0.5 run since this study started.
                            have = curve_records(args)
                            if (d, shots, round(a, 3), seed) not in have and not rec.exists():
                                train_run(args, d, shots, seed, ["--alpha", str(a)], rec, f"alpha {a:g}")
                    if "learnt" in parts:
                        rec = Path(args.runs) / f"learnt-{d}-{shots}shot-seed{seed}.json"
                        if not rec.exists():
                            train_run(args, d, shots, seed, ["--alpha", "learn", "--alpha-init", "0.5", "--alpha-lr", ALPHA_LR],
                                      rec,
                                      "learnt alpha")
                    if "perdim" in parts and shots in args.perdim_shots:
                        rec = Path(args.runs) / f"perdim-{d}-{shots}shot-seed{seed}.json"
                        if not rec.exists():
                            train_run(args, d, shots, seed, ["--alpha", "learn-per-dim", "--alpha-init", "0.5",
                                                           "--alpha-lr", ALPHA_LR],
                                      rec, "per-dimension alpha")
                report(args)
    report(args)


if __name__ == "__main__":
    main()

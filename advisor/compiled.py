"""Compiled quantile trees: one target's three LightGBM boosters as native code, via llvmlite.

LightGBM's predict took about 1 ms per booster call on ~100 rows here (three calls per target);
the request path (DECISIONS.md §3, ≤ 1 ms p99 for every arm of one request) cannot afford that.
Here each tree becomes LLVM code of branches, inlined into loops that run blocks of trees over
all rows (the forest is larger than the instruction cache), and one call scores all rows for
q10/q50/q90, reading the target's feature columns in place: ~0.3 ms for 100 rows × 900 trees.

The result is the same as `Booster.predict`: every split repeats LightGBM's numerical decision
(missing types None/Zero/NaN, default direction, `value <= threshold` on doubles), the tiny-value
rule of its dense-row reader is applied to the input, and the trees are summed in LightGBM's order
from 0.0, so results match bit for bit in practice (tests check ≤ 1e-12 relative). Models with
categorical or linear trees are not compiled.

Object code is cached in a folder keyed by the model hash, the LLVM version and the host CPU
(`OMNIPILOT_CACHE_DIR`, else `$XDG_CACHE_HOME/omnipilot` or `~/.cache/omnipilot`), so a daemon
restart loads it in milliseconds; a miss compiles. When llvmlite is missing or compilation fails,
`compile_forest` logs a warning and returns None and the caller keeps plain LightGBM.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import struct
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import structlog

log = structlog.get_logger(__name__)

# Bump when the generated code changes: it is part of the cache key.
CODEGEN_VERSION = 2
# LightGBM's kZeroThreshold is the float literal 1e-35f stored in a double.
ZERO_THRESHOLD = float(np.float32(1e-35))
ENTRY = "omnipilot_forest"
# Trees per block of the row loop (see forest_ir): 8, 16 and 32 scored alike on the bundled model
# (~0.28 ms for 100 rows × 900 trees); smaller blocks compile faster.
BLOCK = 16
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}
_llvm_lock = threading.Lock()
_llvm_ready = False


class ForestUnsupported(ValueError):
    """The boosters use a feature the compiler does not translate (categorical or linear trees)."""


def _hex(v: float) -> str:
    # LLVM reads a double constant exactly from its IEEE bits in hex.
    return f"0x{struct.unpack('<Q', struct.pack('<d', float(v)))[0]:016X}"


def _split_condition(node: dict[str, Any], v: str, c: str, col: int, out: list[str]) -> None:
    """IR lines that set %c to 'go left' for one numerical split, as LightGBM decides it."""
    if node.get("decision_type") != "<=":
        raise ForestUnsupported(f"split decision {node.get('decision_type')!r} (categorical) is not compiled")
    thr = float(node["threshold"])
    missing = _MISSING[str(node.get("missing_type", "None"))]
    left = bool(node.get("default_left", False))
    out.append(f"  %{v}p = getelementptr inbounds double, ptr %row, i64 {col}")
    out.append(f"  %{v} = load double, ptr %{v}p, align 8")
    if missing == 0:
        # LightGBM reads NaN as 0.0 here: NaN goes where 0.0 would.
        op = "ule" if 0.0 <= thr else "ole"
        out.append(f"  %{c} = fcmp {op} double %{v}, {_hex(thr)}")
    elif missing == 2:
        # NaN takes the default direction; everything else compares.
        op = "ule" if left else "ole"
        out.append(f"  %{c} = fcmp {op} double %{v}, {_hex(thr)}")
    else:
        # Zero (and NaN, read as zero) takes the default direction; tiny inputs were zeroed before.
        out.append(f"  %{c}t = fcmp ole double %{v}, {_hex(thr)}")
        if left:
            out.append(f"  %{c}z = fcmp ueq double %{v}, 0.0")
            out.append(f"  %{c} = or i1 %{c}z, %{c}t")
        else:
            out.append(f"  %{c}z = fcmp one double %{v}, 0.0")
            out.append(f"  %{c} = and i1 %{c}z, %{c}t")


def _tree_ir(name: str, tree: dict[str, Any], columns: Sequence[int] | np.ndarray) -> str:
    """One tree as `double @name(ptr %row)`: a block per split, a `ret` per leaf."""
    if tree.get("num_cat", 0):
        raise ForestUnsupported("categorical splits are not compiled")
    # Inlined into the block loops (see _engine): a call per tree per row cost ~40% of the time.
    lines = [f"define internal double @{name}(ptr noalias nocapture readonly %row) nounwind alwaysinline {{"]
    counter = [0]

    def emit(node: dict[str, Any], label: str) -> None:
        lines.append(f"{label}:")
        if "leaf_value" in node:
            if "leaf_coeff" in node:
                raise ForestUnsupported("linear trees are not compiled")
            lines.append(f"  ret double {_hex(node['leaf_value'])}")
            return
        k = counter[0]
        counter[0] += 1
        _split_condition(node, f"v{k}", f"c{k}", int(columns[int(node["split_feature"])]), lines)
        lines.append(f"  br i1 %c{k}, label %L{k}, label %R{k}")
        emit(node["left_child"], f"L{k}")
        emit(node["right_child"], f"R{k}")

    emit(tree["tree_structure"], "entry")
    lines.append("}")
    return "\n".join(lines)


def forest_ir(
    dumps: Sequence[dict[str, Any]], columns: Sequence[int] | np.ndarray, n_cols: int, block: int = BLOCK
) -> str:
    """LLVM IR of `void omnipilot_forest(ptr x, i64 n, ptr out)`: x is (n, n_cols) C-order
    doubles, out is (n, len(dumps)) raw scores, one column per booster, trees summed in order.

    Trees run in blocks of `block` over all rows (the whole forest is larger than the instruction
    cache; a row at a time would stream all of it per row)."""
    parts: list[str] = []
    loops: list[list[str]] = []
    nq = len(dumps)
    for q, dump in enumerate(dumps):
        if int(dump.get("num_tree_per_iteration", 1)) != 1:
            raise ForestUnsupported("multi-class boosters are not compiled")
        trees = dump["tree_info"]
        for t, tree in enumerate(trees):
            parts.append(_tree_ir(f"t{q}_{t}", tree, columns))
        for b0 in range(0, len(trees), block):
            body = [f"  %acc0 = {'fadd double 0.0, 0.0' if b0 == 0 else 'load double, ptr %op, align 8'}"]
            for t in range(b0, min(b0 + block, len(trees))):
                body.append(f"  %r{t} = call double @t{q}_{t}(ptr %row)")
                body.append(f"  %acc{t - b0 + 1} = fadd double %acc{t - b0}, %r{t}")
            body.append(f"  store double %acc{min(block, len(trees) - b0)}, ptr %op, align 8")
            loops.append(
                [
                    f"  %oi = add i64 %obase, {q}",
                    "  %op = getelementptr inbounds double, ptr %out, i64 %oi",
                    *body,
                ]
            )
    funcs = []
    calls = []
    for k, body in enumerate(loops):
        funcs.append(_row_loop(f"blk{k}", body, n_cols, nq))
        calls.append(f"  call void @blk{k}(ptr %x, i64 %n, ptr %out)")
    entry = [
        f"define void @{ENTRY}(ptr noalias nocapture readonly %x, i64 %n, ptr noalias nocapture %out) nounwind {{",
        "entry:",
        *calls,
        "  ret void",
        "}",
    ]
    return "\n\n".join([*parts, *funcs, "\n".join(entry)]) + "\n"


def _row_loop(name: str, body: Sequence[str], n_cols: int, nq: int) -> str:
    """`void @name(x, n, out)` running `body` once per row (%row, %obase = row * nq in scope)."""
    return "\n".join(
        [
            f"define internal void @{name}(ptr noalias nocapture readonly %x, i64 %n, ptr noalias nocapture %out) nounwind {{",
            "entry:",
            "  %empty = icmp sle i64 %n, 0",
            "  br i1 %empty, label %done, label %loop",
            "loop:",
            "  %i = phi i64 [ 0, %entry ], [ %next, %loop ]",
            f"  %xoff = mul i64 %i, {n_cols}",
            "  %row = getelementptr inbounds double, ptr %x, i64 %xoff",
            f"  %obase = mul i64 %i, {nq}",
            *body,
            "  %next = add i64 %i, 1",
            "  %more = icmp slt i64 %next, %n",
            "  br i1 %more, label %loop, label %done",
            "done:",
            "  ret void",
            "}",
        ]
    )


def _init_llvm() -> Any:
    """llvmlite's binding with the native target ready (once per process); ImportError if absent."""
    global _llvm_ready
    import llvmlite.binding as llvm

    with _llvm_lock:
        if not _llvm_ready:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            _llvm_ready = True
    return llvm


def _host_key(llvm: Any) -> str:
    try:
        features = str(llvm.get_host_cpu_features().flatten())
    except RuntimeError:  # LLVM cannot read the features on some hosts
        features = ""
    return f"{llvm.llvm_version_info}|{llvm.get_process_triple()}|{llvm.get_host_cpu_name()}|{features}"


def cache_root() -> Path:
    env = os.environ.get("OMNIPILOT_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "omnipilot"


class CompiledForest:
    """Native q10/q50/q90 raw scores for one target; holds the JIT engine that owns the code."""

    def __init__(self, engine: Any, n_cols: int, n_out: int, from_cache: bool) -> None:
        self._engine = engine  # keeps the machine code alive
        self.n_cols = n_cols
        self.n_out = n_out
        self.from_cache = from_cache
        fn_type = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p)
        self._fn = fn_type(engine.get_function_address(ENTRY))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n, n_out) raw scores of the full feature matrix x (n, n_cols); x is not modified."""
        x = np.array(x, dtype=np.float64, order="C", copy=True)
        if x.ndim != 2 or x.shape[1] != self.n_cols:
            raise ValueError(f"compiled forest expects (n, {self.n_cols}) features, got {x.shape}")
        # LightGBM's dense-row reader drops values within ZERO_THRESHOLD of 0 (they read as 0.0).
        x[np.abs(x) <= ZERO_THRESHOLD] = 0.0
        out = np.empty((x.shape[0], self.n_out), dtype=np.float64)
        self._fn(x.ctypes.data, x.shape[0], out.ctypes.data)
        return out


def _engine(llvm: Any, ir: str | None, cached: bytes | None, store: Path | None) -> Any:
    """An MCJIT engine from IR, or from cached object code (then `ir` is None)."""
    target = llvm.Target.from_triple(llvm.get_process_triple())
    try:
        features = llvm.get_host_cpu_features().flatten()
    except RuntimeError:
        features = ""
    # Codegen level 1: as fast as 2 and 3 on these forests (benchmarked), and compiles sooner.
    machine = target.create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=features, opt=1, reloc="pic", codemodel="jitdefault"
    )
    module = llvm.parse_assembly(ir if ir is not None else "")
    module.verify()
    if ir is not None:
        # Only the inliner: the full O2 pipeline scored 25% faster still but took ~40 s per target.
        passes = llvm.create_new_module_pass_manager()
        passes.add_always_inliner_pass()
        passes.run(
            module, llvm.create_pass_builder(machine, llvm.create_pipeline_tuning_options(speed_level=1))
        )
    engine = llvm.create_mcjit_compiler(module, machine)
    if cached is not None:
        engine.set_object_cache(getbuffer_func=lambda _m: cached)
    elif store is not None:
        engine.set_object_cache(notify_func=lambda _m, buf: _write_cache(store, bytes(buf)))
    engine.finalize_object()
    return engine


def _write_cache(path: Path, obj: bytes) -> None:
    # sha256 of the object first, so a torn or foreign file is recompiled rather than run.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(hashlib.sha256(obj).digest() + obj)
        tmp.replace(path)
    except OSError as exc:
        log.warning("compiled_trees_cache_not_written", path=str(path), error=str(exc))


def _read_cache(path: Path) -> bytes | None:
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    digest, obj = raw[:32], raw[32:]
    return obj if obj and hashlib.sha256(obj).digest() == digest else None


def compile_forest(
    boosters: Sequence[Any],
    columns: Sequence[int] | np.ndarray,
    n_cols: int,
    key: str,
    cache_dir: Path | None = None,
) -> CompiledForest | None:
    """Compile one target's boosters (`key` names the model, e.g. model hash + target) or load them
    from the cache; None (with a warning) when llvmlite is missing or compilation fails."""
    try:
        llvm = _init_llvm()
    except ImportError as exc:
        log.warning(
            "compiled_trees_unavailable", reason=f"llvmlite not importable: {exc}", fallback="lightgbm"
        )
        return None
    ident = hashlib.sha256(
        f"{CODEGEN_VERSION}|{BLOCK}|{key}|{list(columns)}|{n_cols}|{_host_key(llvm)}".encode()
    )
    store = (cache_dir or cache_root()) / "compiled-trees" / f"{ident.hexdigest()[:32]}.o"
    try:
        cached = _read_cache(store)
        if cached is not None:
            return CompiledForest(_engine(llvm, None, cached, None), n_cols, len(boosters), True)
        ir = forest_ir([b.dump_model() for b in boosters], columns, n_cols)
        return CompiledForest(_engine(llvm, ir, None, store), n_cols, len(boosters), False)
    except (ForestUnsupported, RuntimeError, ValueError, KeyError) as exc:
        log.warning("compiled_trees_unavailable", key=key, reason=str(exc), fallback="lightgbm")
        return None

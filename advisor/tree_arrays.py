"""Boosted trees as flat numpy arrays: all trees × all rows evaluated level by level in one pass.

The daemon must answer from its first request (DECISIONS.md §3): no compile step, no code cache,
no child process. Here a target's boosters are read once, at load, from their model text into
arrays (~25 ms per target), and scoring a request is a few dozen numpy operations whatever its
number of rows: ~20 % faster than LightGBM's own predict on one thread for 12–100 rows, and one
call for all of a target's boosters (benchmarks/costmodel.py).

Layout. Every tree is padded to a complete tree of the forest's depth D (a leaf above depth D fills
all the slots below it; padding nodes always go left), and nodes are stored level by level across
trees: at level d, slot s of tree t is element t·2^d + s, so a row moves to 2·pos + (goes right)
with no child table. A split is a *condition* — (column, threshold, missing type, default
direction) — and a forest has few distinct ones (~350 in the bundled 900-tree target), so scoring
first decides every condition for every row (an n × C table) and the walk only gathers from it.
Rows that decide every condition alike (e.g. an AWQ and a GPTQ arm, when no tree splits on which)
are walked once.

Numerics repeat LightGBM's `NumericalDecision` on doubles: values within kZeroThreshold of 0 read
as 0.0 (its dense-row reader drops them); missing type None reads NaN as 0.0; Zero sends NaN and
0.0 the default way; NaN sends NaN the default way; otherwise a row goes left iff `value <=
threshold`. Each booster's trees are added in their order, from the first, as LightGBM does, so
the scores are its raw scores (tests check ≤ 1e-12 relative; in practice bit for bit).
Categorical splits, linear trees, several trees per iteration and averaged (random-forest) output
are refused with `TreesUnsupported`: the caller then keeps LightGBM.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# LightGBM's kZeroThreshold is the float literal 1e-35f stored in a double.
ZERO_THRESHOLD = float(np.float32(1e-35))
# A complete tree holds 2^D leaf slots; the project trains at depth ≤ 6.
MAX_DEPTH = 12
# Rows per pass: bounds the (trees × rows) work arrays for batch callers (gate, planner, evaluate).
CHUNK_ROWS = 512
_MISSING_NONE, _MISSING_ZERO = 0, 1
_INT32_LIMIT = 2**31 - 1
_CATEGORICAL_MASK, _DEFAULT_LEFT_MASK = 1, 2
_TREE_KEYS = (
    "num_leaves",
    "split_feature",
    "threshold",
    "decision_type",
    "left_child",
    "right_child",
    "leaf_value",
)


class TreesUnsupported(ValueError):
    """The model uses something the arrays do not represent (the caller keeps LightGBM)."""


class _Forest:
    """The trees of one LightGBM text model, every node of every tree in flat arrays: tree t's
    internal nodes start at node_start[t], its leaves at leaf_start[t]; a negative child ~c is leaf c."""

    def __init__(self, text: str) -> None:
        header = text.split("\nTree=", 1)[0].splitlines()
        fields = dict(line.split("=", 1) for line in header if "=" in line)
        if fields.get("num_tree_per_iteration", "1") != "1":
            raise TreesUnsupported("several trees per iteration (multi-class)")
        if "average_output" in header:
            raise TreesUnsupported("averaged output (random forest)")
        lines: dict[str, list[str]] = {key: [] for key in (*_TREE_KEYS, "num_cat", "is_linear")}
        for line in text.split("\n"):
            key, _, value = line.partition("=")
            if key in lines:
                lines[key].append(value)
        if any(v.strip() not in ("", "0") for v in lines["num_cat"]):
            raise TreesUnsupported("categorical splits")
        if any(v.strip() not in ("", "0") for v in lines["is_linear"]):
            raise TreesUnsupported("linear trees")
        n_trees = len(lines["num_leaves"])
        if any(len(lines[k]) != n_trees for k in _TREE_KEYS):
            raise TreesUnsupported("a model text this reader does not know (fields missing per tree)")

        def numbers(key: str, dtype: type) -> np.ndarray:
            # one C-level parse for all trees; strtod reads LightGBM's round-trip digits exactly
            return np.fromstring(" ".join(lines[key]), dtype=dtype, sep=" ")

        leaves = np.array(lines["num_leaves"], dtype=np.intp)
        self.n_trees = n_trees
        self.num_leaves = leaves
        self.leaf_start = np.concatenate([[0], np.cumsum(leaves)[:-1]]).astype(np.intp)
        self.node_start = self.leaf_start - np.arange(n_trees, dtype=np.intp)
        self.feature = numbers("split_feature", np.intp)
        self.threshold = numbers("threshold", np.float64)
        self.decision = numbers("decision_type", np.int64)
        self.left = numbers("left_child", np.intp)
        self.right = numbers("right_child", np.intp)
        self.leaf_value = numbers("leaf_value", np.float64)
        n_nodes = int((leaves - 1).sum())
        if not (len(self.feature) == len(self.threshold) == len(self.decision) == n_nodes) or len(
            self.leaf_value
        ) != int(leaves.sum()):
            raise TreesUnsupported("a model text whose node counts do not add up")
        if (self.decision & _CATEGORICAL_MASK).any():
            raise TreesUnsupported("categorical splits")
        if np.isnan(
            self.threshold
        ).any():  # `value <= NaN` would need its own rule; LightGBM never writes one
            raise TreesUnsupported("a NaN threshold")


class TreeArrays:
    """Raw scores of several boosters (one output column each) over one feature matrix."""

    def __init__(self, texts: Sequence[str], columns: Sequence[int] | np.ndarray) -> None:
        """From the boosters' LightGBM model texts; `columns[i]` is the matrix column of feature i."""
        cols = np.asarray(columns, dtype=np.intp)
        forests = [_Forest(t) for t in texts]
        if not forests or not any(f.n_trees for f in forests):
            raise TreesUnsupported("no trees")
        counts = [f.n_trees for f in forests]
        ends = np.cumsum(counts).tolist()
        self.n_out = len(forests)
        self.n_trees = int(ends[-1])
        self._bounds = list(zip([0, *ends[:-1]], ends, strict=True))
        # all trees of all boosters as one forest: shift node, leaf and tree numbers
        node_off = np.cumsum([0, *(len(f.feature) for f in forests[:-1])])
        leaf_off = np.cumsum([0, *(len(f.leaf_value) for f in forests[:-1])])
        node_start = np.concatenate([f.node_start + o for f, o in zip(forests, node_off, strict=True)])
        leaf_start = np.concatenate([f.leaf_start + o for f, o in zip(forests, leaf_off, strict=True)])
        num_leaves = np.concatenate([f.num_leaves for f in forests])
        feature = np.concatenate([f.feature for f in forests])
        threshold = np.concatenate([f.threshold for f in forests])
        decision = np.concatenate([f.decision for f in forests])
        left = np.concatenate([f.left for f in forests])
        right = np.concatenate([f.right for f in forests])
        leaf_value = np.concatenate([f.leaf_value for f in forests])
        if len(feature) and (feature.max() >= len(cols) or feature.min() < 0):
            raise TreesUnsupported(f"a split on feature {int(feature.max())}, the model has {len(cols)}")

        # Walk all trees breadth-first at once: where each internal node and each leaf sits.
        tree_ids = np.arange(self.n_trees, dtype=np.intp)
        split = num_leaves > 1
        nodes: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # per level: (node, tree, slot)
        found: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []  # (level, leaf, tree, slot)
        single = ~split
        found.append((0, leaf_start[single], tree_ids[single], np.zeros(int(single.sum()), dtype=np.intp)))
        frontier: tuple[np.ndarray, ...] = (
            node_start[split],
            tree_ids[split],
            np.zeros(int(split.sum()), dtype=np.intp),
        )
        while len(frontier[0]):
            if len(nodes) >= MAX_DEPTH:
                raise TreesUnsupported(f"trees deeper than {MAX_DEPTH} levels")
            node, tree, slot = frontier
            nodes.append((node, tree, slot))
            nxt: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
            for side, child in ((0, left[node]), (1, right[node])):
                inner = child >= 0
                below = 2 * slot + side
                nxt.append((node_start[tree[inner]] + child[inner], tree[inner], below[inner]))
                out = ~inner
                leaf = leaf_start[tree[out]] + ~child[out]
                found.append((len(nodes), leaf, tree[out], below[out]))
            frontier = tuple(np.concatenate(parts) for parts in zip(*nxt, strict=True))
        depth = max(1, len(nodes))
        self.depth = depth

        # Conditions: distinct (column, threshold, missing type, default right) of all splits.
        kind = (decision >> 2) & 3
        default_right = (decision & _DEFAULT_LEFT_MASK) == 0
        ids: dict[tuple[int, float, int, bool], int] = {}
        keys = zip(
            cols[feature].tolist(), threshold.tolist(), kind.tolist(), default_right.tolist(), strict=True
        )
        cond_of_node = np.array([ids.setdefault(k, len(ids)) for k in keys], dtype=np.intp)
        uniq = np.array(list(ids), dtype=np.float64).reshape(len(ids), 4)
        always_left = len(uniq)
        self._levels = []
        for d in range(depth):
            level = np.full(self.n_trees << d, always_left, dtype=np.intp)
            if d < len(nodes):
                node, tree, slot = nodes[d]
                level[(tree << d) + slot] = cond_of_node[node]
            self._levels.append(level)
        self._leaf = np.empty(self.n_trees << depth)
        for d, leaf, tree, slot in found:
            span = 1 << (depth - d)
            start = (tree << depth) + slot * span
            self._leaf[(start[:, None] + np.arange(span)).ravel()] = np.repeat(leaf_value[leaf], span)
        # the walk's 32-bit copy of the levels, where every slot number fits
        self._levels32 = (
            [lv.astype(np.int32) for lv in self._levels] if self.n_trees << depth < _INT32_LIMIT else None
        )
        self._col = uniq[:, 0].astype(np.intp)
        self._thr = uniq[:, 1].astype(np.float64)
        ckind = uniq[:, 2].astype(np.int64)
        self._zero_kind = ckind == _MISSING_ZERO
        self._any_zero_kind = bool(self._zero_kind.any())
        # where a missing input goes: None reads it as 0.0, Zero and NaN take the default direction
        self._missing_right = np.where(ckind == _MISSING_NONE, 0.0 > self._thr, uniq[:, 3] > 0)
        self.n_conditions = len(uniq)
        self.n_cols_min = int(np.max(self._col)) + 1 if len(uniq) else 0

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n, n_out) raw scores of the feature matrix x (n, ≥ every column used); x is not modified."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] < self.n_cols_min:
            raise ValueError(f"tree arrays expect (n, ≥{self.n_cols_min}) features, got {x.shape}")
        if len(x) <= CHUNK_ROWS:
            return self._predict(x)
        return np.vstack([self._predict(x[i : i + CHUNK_ROWS]) for i in range(0, len(x), CHUNK_ROWS)])

    def conditions(self, x: np.ndarray) -> np.ndarray:
        """(n, C + 1) bool: whether row i goes right at condition c; the last column (the padding
        nodes' condition) is always False."""
        v = x[:, self._col]
        v[np.abs(v) <= ZERO_THRESHOLD] = 0.0
        right = np.empty((len(x), self.n_conditions + 1), dtype=bool)
        right[:, -1] = False
        body = right[:, :-1]
        np.greater(v, self._thr, out=body)  # NaN compares False here; missing inputs are fixed below
        missing = np.isnan(v)
        if self._any_zero_kind:
            missing |= (v == 0.0) & self._zero_kind
        if missing.any():
            body[missing] = np.broadcast_to(self._missing_right, missing.shape)[missing]
        return right

    def _predict(self, x: np.ndarray) -> np.ndarray:
        right = self.conditions(x)
        # rows that decide every condition alike reach the same leaves: walk each once
        packed = np.packbits(right, axis=1)
        width, raw = packed.shape[1], packed.tobytes()
        number: dict[bytes, int] = {}  # a row's decisions → its number among the distinct rows
        first: list[int] = []  # the first row of each kind
        which = []
        for i in range(len(packed)):
            key = raw[i * width : (i + 1) * width]
            k = number.get(key)
            if k is None:
                k = number[key] = len(first)
                first.append(i)
            which.append(k)
        duplicates = len(first) < len(which)
        if duplicates:
            right = right[first]
        n = len(right)
        stride = right.shape[1]
        flat = right.ravel().view(np.uint8)
        # (trees, rows): the per-booster sums below then add each booster's trees in their order.
        # 32-bit positions and np.take into reused buffers: ~20 % less time than fancy indexing
        # with intp (the walk is most of a request's time); every index is in range by construction.
        small = self._levels32 is not None and n * stride < _INT32_LIMIT
        levels = self._levels32 if small and self._levels32 is not None else self._levels
        dtype = np.int32 if small else np.intp
        row = np.arange(0, n * stride, stride, dtype=dtype)
        # level 0: every tree at its root, so the condition numbers are the level's own
        idx = levels[0][:, None] + row
        bit = np.empty(idx.shape, dtype=np.uint8)
        np.take(flat, idx, out=bit, mode="wrap")
        trees: np.ndarray = np.arange(self.n_trees, dtype=dtype)
        pos = (trees[:, None] << 1) + bit
        for level in levels[1:]:
            np.take(level, pos, out=idx, mode="wrap")
            idx += row
            np.take(flat, idx, out=bit, mode="wrap")
            pos <<= 1
            pos += bit
        leaves = np.take(self._leaf, pos, mode="wrap")
        out = np.empty((n, self.n_out))
        for k, (start, end) in enumerate(self._bounds):
            # LightGBM adds a booster's trees one after the other. numpy does too when it reduces
            # along the slow axis of several columns; along a single column it would pair terms up
            # (last bits differ), so one row is accumulated (strictly in order, and slower).
            if n > 1:
                out[:, k] = leaves[start:end].sum(axis=0)  # np.add.reduce along axis 0: in order
            else:
                out[:, k] = np.add.accumulate(leaves[start:end], axis=0)[-1]
        return out[which] if duplicates else out

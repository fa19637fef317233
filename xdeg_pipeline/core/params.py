"""Defaults of the similarity space, graph and path search, chosen by measurement.

Evidence: ``benchmarks/path_quality.py`` on OpenMoji (4,248 distinct images) and the Tux Paint
stamps (790), EfficientNet-Lite0 features, 200 random pairs for the exact bounds and 1,000 to
3,000 for the hub share. "ratio" = largest step / exact bound, in the full feature space
(chord distance of L2-normalised features), p50 unless said otherwise. The original recipe
(PCA 10, nmslib cosine k=20, directed, shortest sum) on OpenMoji: reachable 0.90, ratio p50
1.28 (p90 1.53), hub share 0.14.
"""

from __future__ import annotations

# --- space ----------------------------------------------------------------------------------
# PCA dims, with k=20, l2 (OpenMoji: smooth ratio p50 / p90, hub share, hops; steps ratio):
#   32: 1.147/1.29, 0.081, 12; steps 1.119    64: 1.127/1.25, 0.088, 11; steps 1.065
#   128: 1.108/1.20, 0.095, 11; steps 1.035   none (1280-d): 1.105/1.23, 0.094, 9; steps 1.000
#   Tux: 64: 1.102, steps 1.074; 128: 1.091, steps 1.024; none: 1.099, steps 1.000.
# 128 keeps nearly all of the full space's quality (steps is exact in the graph's space, so
# it shows PCA distortion most) at 1/10 of the dimensions: HNSW on the full 1280-d features
# took 22 s vs 0.9 s here and scales worse.
# Each reduced row also holds its residual (the length the axes leave out; core/graph/pca.py).
# Chains unchanged after 1 % unrelated images (smooth / steps 7; --stability, 200 pairs), axes
# only -> with the residual: series 0.84/0.815 -> 0.87/0.885, Tux 0.85/0.835 -> 0.895/0.88,
# flower 0.89/0.855 -> 0.885/0.87; quality alike (Tux and flower within noise; the series'
# smooth shortest/longest p10 0.388 -> 0.351, near-identical steps 0.2 -> 0.5 %).
PCA_COMPONENTS: int | None = 128
PCA_MAX_SAMPLES = 50_000

# k (PCA 64, OpenMoji): 10: smooth 1.139, hops 12, steps 1.084; 15: 1.122, steps 1.068;
# 20: 1.127, steps 1.065; 30: 1.115, steps 1.059 but queries 30% slower. Share of pairs more
# than 8 hops apart in the kNN graph (steps=7 impossible without long-range edges): k=10 6.5%,
# 15 0.9%, 20 0.05%, 30 0. k=20: steps reach with few long-range jumps, quick queries.
KNN_K = 20
# l2 vs cosine (PCA 128, k=20, OpenMoji): cosine on the centred PCA space gives smooth
# chains of 25 hops p50 (vs 11), hub share 0.11 (vs 0.095) and steps ratio 1.066 (vs 1.037).
KNN_SPACE = "l2"
# HNSW (nmslib, 100k synthetic 64-d vectors, recall@20): efConstruction 100: 0.9986-0.9992 and
# 10.8 s to build; 200: 0.9994-0.9998 but 25 s. Real collections: recall 0.9997-1.0.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 100
HNSW_EF_SEARCH = 100
# Up to this many distinct vectors the kNN table is exact (blocked BLAS): deterministic (HNSW
# is not, even single-threaded: 1.7% of neighbour ids differed between two identical builds of
# 4,000 x 128), and no slower. Exact / HNSW time, 128-d clustered vectors, k=20, 2 cores:
# 2,000: 0.25 / 0.69 s; 4,000: 1.06 / 1.50 s; 8,000: 3.19 / 3.20 s; 16,000: 14.1 / 6.1 s;
# 32,000: 41.6 / 13.3 s (HNSW recall 0.998-1.0).
KNN_EXACT_MAX = 8_000
# Partitioned kNN (core/graph/knn_partitioned.py): above this many images the knn_edges stage
# (setting XDEG_KNN_PARTITION_ABOVE) splits the vectors into k-means partitions of about
# KNN_PARTITION_ROWS indexed vectors, each searched in its KNN_PARTITION_OVERLAP nearest, the
# partitions as Dask tasks under build_dask. Figures: docs/scaling.md (benchmarks.knn_distributed).
KNN_PARTITION_ABOVE = 2_000_000
KNN_PARTITION_ROWS = 250_000
# Routing, 100k clustered 128-d vectors, 8 partitions: share of the true 20 nearest whose partition
# is searched / searches per vector: the 2 nearest 0.962 / 2.0, 3 nearest 0.987 / 3.0; up to 4
# within 1.15x the nearest centre's distance 0.987 / 1.89, within 1.2x 0.993 / 2.22.
KNN_PARTITION_OVERLAP = 4  # at most this many partitions searched per vector ...
KNN_PARTITION_MARGIN = 0.2  # ... those within (1 + margin) x the nearest centre's distance
KNN_PARTITION_SAMPLE = 50_000  # k-means sample
# Rerank (issue 21, stability): the kNN table takes KNN_RERANK x k candidates in the PCA space
# and keeps each image's k nearest by the chord distance of its full features. The PCA space
# (kept while a collection grows) underestimates the distance of a new kind of picture, which
# then seems near everything: 8 far images added to Tux (795) entered up to 110 kNN lists and
# 15 of the 21 smooth chains that changed went through them. benchmarks.path_quality
# --stability (1 % far images added; smooth / steps 7 chains unchanged), Tux: no rerank
# 0.895 / 0.88, x2 0.93 / 0.91, x3 0.945 / 0.93, x4 0.94 / 0.93; series (star) 0.87 / 0.885 ->
# x3 0.905 / 0.91; confirmed on the flower series built afterwards: 0.885 / 0.87 -> 0.945 /
# 0.87. Every quality figure held or improved (largest step / bound p90, crawl p90, hub share,
# near-identical steps: docs/path_quality.md). Up to KNN_RERANK_MAX images (their features are
# held as float16 while the table is made: 2.6 GB at a million); above, the PCA space's own.
KNN_RERANK = 3
KNN_RERANK_MAX = 1_000_000

# --- features: inference runtime ------------------------------------------------------------
# CPU model alone, 2-core AVX2 box, batch 8, medians of interleaved rounds
# (python -m benchmarks.feature_throughput): efficientnet_lite0 torch eager channels-last 51.9
# images/s, torch.compile 83.2, ONNX Runtime 118.7, OpenVINO 163.3 (3.1x; 1.8x in the
# end-to-end rounds of the same run); resnet18 torch 42.4, ONNX Runtime 31.8, OpenVINO 53.9.
# Features of both match torch's to a min cosine of 1.0000000 on 192 OpenMoji/Tux Paint images.
INFERENCE_RUNTIMES: tuple[str, ...] = ("auto", "torch", "openvino", "onnxruntime")
CPU_RUNTIME_PREFERENCE: tuple[str, ...] = ("openvino", "onnxruntime")  # auto on CPU, in order

# --- graph ----------------------------------------------------------------------------------
SIGMA_K = 7  # local scale (kept as a vertex attribute; local scaling as a cost lost smoothness)
LANDMARKS_MAX = 256  # long-range edges for `steps`: ~2 sqrt(n) landmarks, at most this many
# Landmarks drawn from the images outside dense groups plus one member of each group (the dense
# groups of the distinct exits below), not from all images: a random sample put 27% of them in the
# uneven collection's one series, where `steps` used them as short moves (4 series landmarks held
# 3% of the steps interiors of the held-out badger collection). Steps hub share (1,000 pairs):
# badger 0.109 -> 0.097, uneven 0.078 -> 0.066, OpenMoji 0.093 -> 0.095, Tux 0.044 (the same).
LANDMARKS_SPREAD = True
# Distinct exits (core/graph/exits.py): every image whose kNN list holds fewer than EXITS distinct
# pictures (its own dense group left out, every other dense group counted once) is joined to its
# EXITS nearest distinct pictures; dense groups: kNN edges shorter than max(near-duplicate
# distance, EXIT_GROUP_FRACTION x natural step); an exit is at least the near-duplicate distance,
# at most EXIT_MAX_STEP natural steps long, and no image receives more than EXIT_IN_CAP of them
# (from EXIT_CANDIDATES x EXITS candidates per image, nearest first). Built into the graph as
# edges with attribute ``exit`` (graph["params"]["exits"]). Evidence (issue 12, 1,000 pairs,
# benchmarks/path_quality.py, hub share = interiors on the top 1% of images): main at 85a27c0 ->
# exits + the settings below: smooth hub uneven 0.140 -> 0.051, OpenMoji 0.129 -> 0.093; steps
# 0.162 -> 0.066 and 0.108 -> 0.095; Tux gets no exits (all its lists see 10 distinct pictures).
# Exits alone (old path settings, 600 pairs): uneven smooth hub 0.147 -> 0.050, same-topic
# 0.61 -> 0.67; OpenMoji 0.127 -> 0.096, hops max 24 -> 15. Added edges: uneven 1,975 for 306
# images (+12%), OpenMoji 8,065 for 1,877 (+12%); build_graph at 4,247 rows ~ +0.5 s.
# EXITS 15 / 20, EXIT_GROUP_FRACTION 0.75, EXIT_IN_CAP 10 / 40: OpenMoji hub 0.093-0.110 either
# way (noise), up to 4x the edges. EXIT_MAX_STEP: all exits made were under 2 natural steps; 1.5
# on a held-out uneven collection (badger series) made 188 instead of 1,086, hub 0.12 vs 0.067.
# Held out (badger, docs/path_quality.md; with LANDMARKS_SPREAD): smooth hub 0.151 -> 0.078, steps
# 0.193 -> 0.097, but smooth largest / bound in the graph's space 1.149 -> 1.158 (full space
# 1.106 -> 1.096).
EXITS = 10
EXIT_GROUP_FRACTION = 0.5
EXIT_MAX_STEP = 3.0
EXIT_IN_CAP = 20
EXIT_CANDIDATES = 3
EXIT_EXACT_BUDGET = 5e8  # distance evaluations (rows x net) before the exit search uses HNSW

# --- smooth ---------------------------------------------------------------------------------
# Exact minimax alone (slack 0) funnels chains through connector images: hub share 0.38-0.42
# on OpenMoji (full space: ratio 1.000, hops 9-12). Cost = (step/median)^power *
# (1 + HUB_PENALTY * load), under a hard cap of bottleneck * (1 + SMOOTH_SLACK):
#   power 1 (sum of distances), slack 0.1: ratio 1.095, hops 7, hub 0.27
#   power 4, slack 0.3, no hub penalty: ratio 1.08, hops 10, hub 0.18
#   power 4, slack 0.3, HUB_PENALTY 100: ratio 1.108 (p90 1.20-1.25), hops 10-11, hub 0.077-0.096
#     over load-estimate seeds (Tux: ratio 1.09, hops 4, hub 0.045)
#   HUB_PENALTY 200-400: hub 0.074-0.108 (no better), ratio +0.01-0.02
#   power 3: ratio 1.14, hops 8; power 6: ratio 1.11, hops 15; power 8: hops 19.
# Local scaling, additive or quadratic hub penalties and capacity-style updates were tried and
# were not better. The cap never bound on OpenMoji (the soft minimax keeps steps small), it is
# the guarantee: in the graph's space the largest step is at most 1.3x the least possible.
# With the distinct exits (issue 12; 1,000 pairs): power 4 -> 4.5 raised Tux same-topic 0.655 ->
# 0.678 (0.655 was below the 0.670 of before issue 12), OpenMoji hops 7/11/16 (power 5: Tux 0.717
# but hops p90 10-11, OpenMoji 8-9/12-14/20-25). SMOOTH_SLACK 0.25: OpenMoji hub 0.100 (0.093 at
# 0.3); 0.2 / 0.25 / 0.3 on the held-out badger collection: graph-space ratio 1.13 / 1.16 / 1.17,
# hub 0.124 / 0.081 / 0.067. HUB_PENALTY 150 / 200 with exits: OpenMoji hub 0.089 / 0.087 but
# graph-space ratio p50 1.150 / 1.152 (target <= 1.15). With issue 21's fewest steps (chains
# 4 / 6 / 8 hops on OpenMoji), re-measured 2026-12-04 (python -m benchmarks.path_quality --spaces
# full --modes smooth --set hub_penalty=100,200,400): hub 0.133 / 0.127 / 0.123, full-space
# ratio p50 1.150 / 1.159 / 1.164, crawl p90 1.67 each: the penalty alone does not reach 0.10.
SMOOTH_SLACK = 0.30
SMOOTH_POWER = 4.5
HUB_PENALTY = 100.0
# Hub load estimate (method of successive averages over shortest-path trees): 3 rounds left
# hub share at 0.11, 6 rounds 0.095-0.112 (re-measured 2026-11-25, PCA 128: 0.105, 0.112 with
# 128 sources), 12 rounds 0.088-0.095, 20 rounds 0.091; 48 sources per round (~1.2 s at 4k).
# With the exits and power 4.5 (issue 12): 12 -> 20 rounds: OpenMoji smooth hub 0.096 -> 0.093,
# Tux same-topic 0.678 -> 0.686; 12 rounds x 96 sources: 0.092 at twice the cost.
LOAD_ROUNDS = 20
LOAD_SOURCES = 48
# A rebuilt graph keeps the previous graph's load for the images both hold while the images
# added and removed since the load was estimated fresh are at most this share of that collection
# (issue 21; 1% far images added to the series collection, 200 pairs: smooth chains unchanged
# 0.60 with a fresh load, 0.80 with the old one carried over; see docs/path_quality.md).
LOAD_KEEP_SHARE = 0.05
# A carried load (above) gets the added images' own by this many rounds of the estimate, going on
# from their kNN neighbours' median (core/paths/load_update.py): 4/LOAD_ROUNDS of a fresh one.
LOAD_UPDATE_ROUNDS = 4
# Arcs x sources over a fresh estimate's LOAD_ROUNDS (bounds it on huge graphs); an update runs
# as many sources a round, so it costs LOAD_UPDATE_ROUNDS/LOAD_ROUNDS of a fresh one at any size
# (it had the whole budget for its 4 rounds: at 20,000 and 60,000 images it cost as much as a
# fresh estimate, 1.67 and 4.17 CPU s; now 1.13 and 2.79, benchmarks/graph_update.py).
LOAD_WORK = 1e8

# Above this many images smooth searches a corridor (the minimum-spanning-tree path and two
# rings of neighbours) instead of the whole graph: at 100k, 30 ms and 21.5 hops instead of
# 64-120 ms and 17 hops (benchmarks/scale_model.py: whole-graph query p50 63.6 ms at 100k),
# largest step = the exact bottleneck (ratio 1.00). Counting steps first (SMOOTH_FEWEST_STEPS),
# python -m benchmarks.scale_model --sizes 100000 --stages pca,knn,graph,paths --queries 30:
# corridor query p50 / p90 / hops 13.4 ms / 19.8 ms / 13.5 -> 10.4 ms / 14.9 ms / 12.
LOCAL_SEARCH_ABOVE = 50_000
LOCAL_ROUNDS = 1
LOCAL_WIDTH = 2

# --- what every step should be (issue 12) -----------------------------------------------------
# Evidence: python -m benchmarks.path_quality on Tux Paint (795), OpenMoji (4,247) and the uneven
# collection (python -m benchmarks.uneven_collection: Tux Paint + a 300-image series of one
# picture + 20 near-duplicates + 6 mixed images = 1,121), 150 pairs for the bounds, 600 for hub
# and topic shares, judged in the graph's space (PCA 128); tuned on the uneven collection,
# confirmed on OpenMoji and Tux. Old smooth: hops p50/p90/max Tux 4/9/15, OpenMoji 10/21/44,
# uneven 8/16/26; near-duplicate steps 1.7% / 31.7% / 41%; the closing tables (visual, full and
# graph spaces, 200/1,000 pairs) are in docs/path_quality.md.
# NEAR_DUP_FRACTION: the median same-picture edit (benchmarks.same_picture: JPEG, 5% zoom, 3%
#   shift, 3 degrees, 5% brightness) moves an image by 0.123 (Tux), 0.141 (OpenMoji), 0.122
#   (uneven) = 0.115 / 0.148 / 0.113 of the random-pair median (1.066 / 0.954 / 1.078); as a
#   share of the median nearest-neighbour distance it would be 0.23 / 0.80 / 0.31 (crowding moves
#   that one), hence the random-pair scale. Near-duplicate avoidance alone: uneven smooth hops
#   6/10/16, near-duplicate steps 41% -> 1.6%; Tux same-topic 0.670 -> 0.664, hub 0.050 -> 0.053.
# MIN_STEP (in near-duplicate distances, smooth): 2: Tux 4/8/14, same-topic 0.664, hub 0.053;
#   OpenMoji 7/13/27 (tail too long), hub 0.123; uneven 6/9/16, hub 0.156.  2.5: Tux 4/7/12, 0.650,
#   0.053; OpenMoji 7/11/20, 0.117; uneven 6/9/14, 0.154.  3: Tux 4/7/13, 0.641; OpenMoji
#   6/10/18, 0.131; uneven 5/8/13, 0.161. Clamping only steps at images with near-duplicates kept
#   Tux same-topic (0.665) but left OpenMoji at p90 13, max 20-30 (its skin-tone runs step just
#   above the near-duplicate distance), so the clamp applies everywhere.
# STEP_CONSTANT: 0.5 / 1 / 2 cut Tux hops to 4/6/9 .. 3/5/6 but same-topic to 0.57 / 0.54 / 0.51
#   (fewer, longer steps everywhere), and on the uneven collection it took detours out of the
#   series; the clamp does the job where it is needed.
# NATURAL_FLOOR 0 vs 1: no measured change on the three collections (the kNN edges inside their
#   series are shorter than the floored cap anyway); kept as the guarantee that a tiny bottleneck
#   never forces a chain through every member of a series where longer edges exist.
# STEPS_SLACK (steps X=7): 0: Tux hub 0.086, largest / 8-step bound 1.000; 0.05: 0.054, 1.031;
#   0.1: 0.047, 1.073. OpenMoji at 0.1: hub 0.183 -> 0.111, ratio 1.07; uneven 0.163 -> 0.150.
# HUB_PENALTY 300 / 1000 (smooth, with the above): OpenMoji hub 0.110 / 0.109, uneven 0.158 / 0.18:
#   not better; k = 50 cut the uneven hub share to 0.128 but hops to 3/5/7 and raised the ratio
#   to 1.21. The uneven collection's series joins the rest through 11 outside images (kNN
#   k = 20), so every chain crossing it passes one of them: its hub share stays ~0.15 (old: 0.10,
#   diluted by wading); the distinct exits (EXITS above) took it to 0.05. See docs/path_quality.md.
NEAR_DUP_FRACTION = 0.125  # near-duplicate distance / random-pair median (0: not avoided)
PAIR_SAMPLES = 20_000  # random pairs for the random-pair median (build_graph)
NEAR_DUP_PENALTY = 1e4  # a near-duplicate step costs this many natural steps extra
# Recoloured steps (core/graph/recolours.py): two images whose outlines (the greyscale gradient,
# capped, on a 24 x 24 grid: core/images/outline.py) are within RECOLOUR_DISTANCE (cosine) show
# one drawing in other colours; the pairs make recolour groups, and path search avoids a step
# inside a group as it avoids a near-duplicate step. Tuned on OpenMoji (4,247 images, 2,035 of
# them skin-tone variants), judged by the file names (independent of the outlines): kNN edges
# between two skin tones of one emoji at 0.004 p50 / 0.016 p90 / 0.026 p95, other edges 7.4 %
# under 0.025 (most of them gender or hair variants of one person: one drawing too). Edges
# alone (no groups) at 0.015 / 0.025 / 0.04: skin-tone steps smooth 4.9 % -> 1.6 / 1.1 / 0.7 %,
# steps 7 14.3 % -> 2.3 / 1.1 / 0.2 %, smooth's largest / bound p50 1.117 -> 1.125 / 1.125 /
# 1.122. Groups at 0.025 (the default): smooth 4.9 -> 1.1 %, steps 7 14.3 -> 0.4 % (one emoji's
# tone, gender or person variants, by name: 9.3 -> 4.7 %, 25.6 -> 11.0 %), largest / bound
# 1.117 -> 1.121, crawl p90 1.5, hub share 0.138 -> 0.135. Tux Paint (795 distinct drawings):
# 9 edges of 12,805 marked, chains unchanged. Confirmed on a collection built afterwards
# (benchmarks.series_collection --variant palette: Tux Paint + 40 pictures in 6 colourings):
# the same picture recoloured, by name, smooth 1.5 -> 0.5 %, steps 7 10.4 -> 1.4 %, every
# other figure held; uneven crawl p90 1.5 -> 1.517. Full tables: docs/path_quality.md.
RECOLOUR_DISTANCE = 0.025
STEP_CONSTANT = 0.0  # per-step cost, in units of a natural step's (w / median) ** power
MIN_STEP = 2.5  # a step shorter than MIN_STEP near-duplicate distances costs as one that long
NATURAL_FLOOR = 1.0  # smooth's cap >= NATURAL_FLOOR * natural step * (1 + slack)
# STEPS_SLACK with the exits (OpenMoji, 1,000 pairs): 0.10: hub 0.102, largest / 8-step bound in
#   the graph's space 1.065; 0.12: 0.094, 1.080; 0.15: 0.090, 1.099 (target <= 1.10).
# 0.12 -> 0.25 (issue 21: X steps between two images deep in a series were spent crawling in it):
#   `python -m benchmarks.path_quality C --spaces full --modes steps --set steps_slack=0.12,0.25`
#   (steps 7, 200 pairs; hub share over 200, OpenMoji 1,000; full-space chord): near-identical
#   steps / largest ÷ 8-step bound p50 / hub share; tuned on the star series, then confirmed:
#   star series 4.2 % / 1.059 / 0.084 -> 1.5 % / 1.088 / 0.075 (0.2: 2.8 %, 0.3: 1.3 % / 1.091);
#   OpenMoji 0 / 1.063 / 0.100 -> 0 / 1.075 / 0.085; Tux 0.1 % / 1.056 / 0.056 -> 0 / 1.086 /
#   0.054; flower series 0.1 % / 1.055 / 0.073 -> 0 / 1.080 / 0.061; uneven 2.6 % / 1.057 /
#   0.141 -> 2.2 % / 1.080 / 0.146 (1,000 pairs). The cap is permission, not a target: the
#   convex step cost keeps the largest step near the least possible (<= 1.10 x p50 everywhere).
STEPS_SLACK = 0.25  # steps: the cheapest chain with largest step <= least possible * (1 + this)
# STEP_FLOOR (issue 21; smooth/steps: a step under this share of the chain's cap costs as one
#   that long). Series collection (benchmarks.series_collection, 969 images, full space) smooth
#   near-identical steps / crawl p90 / shortest÷longest p10 / same-topic: 0: 12.3 % / 2.67 /
#   0.166 / 0.681; 0.4: 10.5 % / 2.5 / 0.167 / 0.664; 0.55: 5.6 % / 2 / 0.185 / 0.597; 0.7: 3.9 %
#   / 2 / 0.212 / 0.505. Tux same-topic 0.676 -> 0.666 (0.4), 0.616 (0.55); MIN_STEP 4 / 5
#   instead: Tux 0.616 / 0.546, series near-identical 8.3 / 4.9 %. Less crawling always cost
#   same-topic share (target: not below today's), so it stays off (docs/path_quality.md).
STEP_FLOOR = 0.0
# SHORT_STEP / SHORT_STEP_COST (issue 21): a step shorter than SHORT_STEP natural steps (the
#   scale of consecutive members of a design series: graph-space p50 / p90 0.2 / 0.45 natural
#   steps on the series collection) costs as one of SHORT_STEP_COST x the chain's cap, in smooth
#   and steps: at power 4.5 a series step clamped at MIN_STEP cost 1/20 of a step near the cap,
#   so chains crossed a series in many of them. Series collection (benchmarks.series_collection,
#   969 images; full space, smooth) near-identical steps / shortest/longest p10 / crawl p90 /
#   same-topic: off 12.3 % / 0.166 / 2.67 / 0.681; 0.3 x 1: 12.6 % / 0.181 / 3 / 0.685;
#   0.4 x 0.7: 2.8 % / 0.217 / 2.5 / 0.661; 0.4 x 1: 0.5 % / 0.329 / 2.67 / 0.645; 0.45 x 0.7:
#   2.1 % / 0.285 / 2.5 / 0.656; 0.45 x 1: 0.2 % / 0.388 / 2.5 / 0.639 (the series' own steps
#   count as same-topic, so crossing it in fewer steps lowers that share there). Tux Paint
#   smooth: off 0.350 / 2.33 / same-topic 0.676, hub 0.042; 0.3: 0.378 / 0.676; 0.45: 0.436 /
#   2.33 / 0.673, hub 0.046; steps 7 shortest/longest p10 0.324 -> 0.414, same-topic 0.742 both.
#   Steps 7 query p50 on the series collection, interleaved in one process: 58 -> 62 ms.
#   Largest / bound, hops and hub shares stay within targets (docs/path_quality.md).
SHORT_STEP = 0.45
SHORT_STEP_COST = 1.0
# SMOOTH_FEWEST_STEPS (issue 21): smooth takes the cheapest chain among those with the fewest
#   steps under its cap (core/paths/fewest.py) instead of the cheapest under the cap: under
#   the power cost a chain spent its spare steps on many short ones (crawl p90 2.2-2.7 on every
#   collection, even Tux Paint, which has no series). python -m benchmarks.path_quality
#   --spaces full --modes smooth --set fewest_steps=0,1 (200 pairs, 1,000 for hub and topic),
#   off -> on: hops p50/p90/max, crawl p90, shortest/longest p10, largest/bound p50/p90, hub,
#   same-topic share of steps, topic changes a chain did not need:
#   Tux 5/8/13 -> 3/4/5, 2.18 -> 1.5, 0.445 -> 0.638, 1.093/1.159 -> 1.120/1.203,
#     0.041 -> 0.058, 0.680 -> 0.468, 0.75 -> 0.74;
#   star series 5/8/15 -> 3/4/5, 2.5 -> 1.5, 0.353 -> 0.588, 1.093/1.183 -> 1.138/1.202,
#     0.062 -> 0.078, 0.647 -> 0.439, 0.92 -> 0.82 (near-identical steps 0.4 -> 1.7 %);
#   OpenMoji (4,247) 7/11/21 -> 4/6/8, 2.68 -> 1.67, 0.32 -> 0.48, 1.087/1.19 -> 1.15/1.234,
#     0.100 -> 0.133, 0.547 -> 0.386, 2.58 -> 1.80;
#   flower series (built after this was chosen) 5/8/15 -> 3/4/5, 2.5 -> 1.5, 0.346 -> 0.559,
#     1.087/1.157 -> 1.112/1.175, 0.059 -> 0.088, 0.666 -> 0.433, 0.91 -> 0.85.
#   Fewer steps make each one longer (largest/bound +0.03-0.06) and leave fewer steps inside
#   one topic, but fewer needless topic changes on all four. Smooth chains unchanged after 1 %
#   far images (--stability, 200 pairs), asked afresh / answered again by a refresh: Tux
#   0.945/0.96 -> 0.905/0.975, star series 0.905/0.96 -> 0.89/0.965, flower 0.945/0.975 ->
#   0.925/0.97. Smooth query p50 at 8,000 (benchmarks.graph_scale): 10.8-12.7 -> 9.0-9.4 ms
#   (one Dijkstra, as before). Figures and strips: docs/path_quality.md.
#   Tried and not kept (OpenMoji, 1,000 pairs): a price per step of 0.1 / 0.3 / 1 x a step at
#   the cap instead of counting steps first: hub 0.121 / 0.131 / 0.131, crawl p90 2 / 1.75 /
#   1.67; steps weighted by their hub factor (^0.5, ^1): hub 0.111 / 0.108 but crawl p90 2,
#   largest/bound 1.19-1.20; HUB_PENALTY 300 / 1000: hub 0.125 / 0.121, largest/bound 1.16;
#   a hub load estimated with a price per step: hub 0.130; slack 0.2 / 0.25 (star series):
#   near-identical steps 7.4 / 3.9 %, shortest/longest p10 0.19 / 0.22 (a series' own kNN
#   edges are short: a tighter cap crosses it in them).
SMOOTH_FEWEST_STEPS = True
# SMOOTH_LONG_PRICE (off): when smooth counts steps, a step more than SMOOTH_LONG_STEP above the
#   cap's basis counts as 1 + SMOOTH_LONG_PRICE steps (SearchSpace.step_units), so a chain takes
#   one more ordinary step rather than one near the cap. Swept on Tux and the star series
#   (path_quality --spaces full --modes smooth --set long_price=0,0.5,1,1.5 --set
#   long_step=0.1,0.15; 200 pairs, 1,000 for hubs), price 0 -> 1 at long_step 0.15: largest /
#   bound p50 Tux 1.120 -> 1.102, star series 1.138 -> 1.106 (p90 1.203 -> 1.167, 1.202 ->
#   1.192); hops p90 4 -> 5; crawl p90 1.5 both; shortest/longest p10 0.638 -> 0.652, 0.588 ->
#   0.452; hub 0.058 -> 0.057, 0.078 -> 0.077; same-topic share 0.468 -> 0.517, 0.439 -> 0.478.
#   Confirmed on: flower 1.112 -> 1.092, hub 0.088 -> 0.100; uneven 1.118 -> 1.099, hub 0.118
#   -> 0.132; OpenMoji (4,247) 1.150 -> 1.108 but hub 0.133 -> 0.173 (hops 4/6/8 -> 5/7/9).
#   Not on by default: shorter steps between unlike images pass through the images near many
#   (hubs), on the demo collection most. Left as a setting for work on hubs (price 0.5: 1.115 /
#   1.129, not enough; price 1 at long_step 0.2 / 0.25: star series 1.118 / 1.127, OpenMoji
#   1.122 / 1.134 with hub 0.157 / 0.145). Counting a step into one of the 1 % / 3 % images of
#   most hub load as 2 or 2.5 steps did not lower OpenMoji's hub share (0.132-0.146): the
#   images that fewest-step chains funnel through are not those of most load (9 of the 43 most
#   used are among the 43 of most load).
SMOOTH_LONG_STEP = 0.15
SMOOTH_LONG_PRICE = 0.0
# SMOOTH_SKIP_SHORT (issue 21): a smooth chain's image goes when one of its steps is shorter than
#   this share of the chain's largest step and its two neighbours are within that largest step
#   of each other (measured in the graph's space by the images' vectors; core/paths/skip.py).
#   From an image of a design series the kNN graph has edges only to the series, so a chain
#   first walked to the member with an edge out (a07 -> a04 (0.23) -> dragonfly (0.86)).
#   python -m benchmarks.path_quality FOLDER --spaces full --modes smooth --set skip_short=0,0.4
#   (200 pairs, 1,000 for hubs; full-space chord), off -> 0.4: shortest/longest p10, crawl
#   p90, near-identical steps, largest/bound p50/p90, hub share, same-topic share:
#   uneven (tuned here) 0.274 -> 0.449, 1.67 -> 1.5, 1.4 -> 0.8 %, 1.118/1.220 both, 0.118 ->
#     0.119, 0.482 -> 0.471 (1.0, every short-enough skip: 0.426, hub 0.119, same-topic 0.454;
#     0.6: 0.426, 0.466);
#   confirmed on: star series 0.588 -> 0.625, 1.5 both, 1.7 -> 1.6 %, 1.138/1.202 both, 0.078
#     both, 0.439 -> 0.436; flower 0.559 -> 0.576, hub 0.088 both, 0.433 -> 0.432; Tux Paint
#     and OpenMoji (4,247): no change but OpenMoji shortest/longest 0.478 -> 0.483 (OpenMoji
#     at 1.0: crawl 1.67 -> 1.5 but hub 0.133 -> 0.140, same-topic 0.386 -> 0.371).
#   Smooth query p50 / p90 at 8,000 (benchmarks.graph_scale's clustered synthetic graph, 200
#   pairs interleaved in one process): 4.75 / 6.16 ms without the vectors, 4.83 / 6.45 ms with
#   them (129 of the 200 chains lose a step there: dense clusters crossed by long jumps).
#   0.4 -> 1.0 (any step, with SMOOTH_SPARE_STEPS below; 2026-12-05): a spare step can leave
#   a chain whose neighbours around an image are within its largest step; skipping them keeps
#   the crawl down (OpenMoji crawl p90 with the spare step: 1.675 at 0.4, 1.5 at 1.0). Figures
#   of both together below.
SMOOTH_SKIP_SHORT = 1.0
# SMOOTH_SPARE_STEPS (issue 21): smooth takes the least-cost chain of at most this many steps
#   more than the fewest where its largest step is smaller (core/paths/spare.py): counting steps
#   first bought the fewest steps with a step near the cap (largest / bound p50 1.15 on
#   OpenMoji). python -m benchmarks.path_quality FOLDER --spaces full --modes smooth,steps
#   --set spare_steps=0,1 --set skip_short=0.4,1.0 (200 pairs, 1,000 for hub and topic shares;
#   full-space chord), spare 0 / skip 0.4 -> spare 1 / skip 1.0: largest / bound p50 / p90,
#   crawl p90, hub share, shortest/longest p10, same-topic share, hops p50/p90/max; tuned on
#   OpenMoji, the star series and the uneven collection, then confirmed on Tux Paint and the
#   flower series:
#   OpenMoji (4,247) 1.150/1.240 -> 1.117/1.208, crawl 1.67 -> 1.5, hub 0.133 -> 0.138,
#     0.483 -> 0.476, 0.384 -> 0.409, 4/6/8 -> 4/6/9;
#   star series (969) 1.138/1.202 -> 1.116/1.225, 1.5 both, 0.078 -> 0.076, 0.625 -> 0.516,
#     0.436 -> 0.460, near-identical steps 1.6 -> 1.0 %;
#   uneven (1,121) 1.116/1.211 -> 1.106/1.188, 1.517 -> 1.5, 0.102 -> 0.107, 0.574 -> 0.445,
#     0.447 -> 0.479;
#   Tux Paint (795) 1.120/1.203 -> 1.107/1.175, 1.5 both, 0.058 -> 0.050, 0.638 -> 0.637,
#     0.467 -> 0.516; flower series (919) 1.112/1.175 -> 1.100/1.167, 1.5 both, 0.088 -> 0.081,
#     0.576 -> 0.568, 0.432 -> 0.471.
#   The spare step alone (skip 0.4): OpenMoji crawl 1.675, uneven 1.67. Tried, not kept: the
#   spare chain restricted to steps under the fewest chain's largest (uneven crawl 1.67, star
#   shortest/longest 0.355); the cap lowered below the largest step and the fewest steps taken
#   there (OpenMoji hub 0.154-0.170); a hop budget of 1.5 x the fewest (crawl 2.0); 2 spare
#   steps (OpenMoji 1.105, crawl 1.517, hub 0.134; uneven crawl 1.67, hub 0.100). Smooth query
#   p50 at 8,000 (python -m benchmarks.query_settings: graph_scale's synthetic graph, 200 pairs
#   interleaved): 4.78 -> 5.63 ms (x 1.18; x 1.18-1.19 in two earlier runs).
SMOOTH_SPARE_STEPS = 1

# --- steps ----------------------------------------------------------------------------------
STEPS_SEARCH_BUDGET = 20_000  # DFS expansions per threshold before it counts as "not found"
MAX_STEPS = 1_000

# --- the collection map (t-SNE, openTSNE; issue 14) -------------------------------------------
# Evidence: python -m benchmarks.map_layout --no-umap [--set NAME=VALUE] (kNN kept: share of each
# image's 10 nearest PCA neighbours also among its 10 nearest on the map; placed: the same for
# 1 % placed into a map of the rest) on OpenMoji (3,779 distinct of the first 4,000) and Tux Paint
# (795), Barnes-Hut, one thread, 2 shared cores (times move +-30 % with the load):
#   exaggerated+iterations, theta   OpenMoji fit, kept, placed, topic   Tux fit, kept, topic
#   250+500, 0.5 (before)           12.8 s  0.658  0.530  0.634        1.9 s  0.600  0.707
#   250+500, 0.8                     8.5 s  0.658  0.527  0.635        2.5 s  0.590  0.709
#   125+250, 0.5                     6.4 s  0.658  0.497  0.635        2.0 s  0.592  0.695
#   125+250, 0.8 (chosen)            5.8 s  0.659  0.519  0.637        0.9 s  0.585  0.701
#   125+150, 0.8                     3.9 s  0.657  0.522  0.636        1.6 s  0.581  0.700
#   100+150, 0.8                     4.0 s  0.656  0.524  0.638        0.5 s  0.585  0.702
# kNN kept stays within 0.4 % on OpenMoji and 2.5 % on Tux (0.581-0.600 over all the settings
# tried); fewer than 250 iterations was not taken: larger collections need more steps to settle.
# The FFT gradient (openTSNE's choice above 10,000 rows) took 2.3x BH's time at 4,247 rows here
# (numpy's FFT, no pyFFTW); two threads (BH or FFT) were slower than one on 2 shared cores.
MAP_EXAGGERATION_ITER = 125
MAP_ITER = 250
MAP_THETA = 0.8
# The map picture (collection_map.png) pastes a thumbnail per image up to this many images;
# above it, 24 px thumbnails on a 1,600 px picture are a solid smear: a density of points
# (darker where images crowd) instead (issue 23). The explorer draws points at any size.
MAP_PICTURE_MAX_THUMBNAILS = 20_000

"""The engines that score walked files: `local` (a process pool on this machine) and `ray` (Ray Data). Both
hand work to the same pipeline steps (`toolkit.predict.pipeline`), chunk the walk with `shared.chunks`, and
isolate a file that kills its worker with `shared.one_by_one`; `pool` is the worker pool both use on this
machine (the Ray engine falls back to it after a crash).
"""

ENGINES = {
    "local": ("toolkit.predict.engines.local", "LocalEngine"),
    "ray": ("toolkit.predict.engines.ray", "RayEngine"),
}

"""Load shapes: fixed concurrency (-u at once) or steps (add K users every T seconds up to -u)."""

from __future__ import annotations

from locust import LoadTestShape


class RivaShape(LoadTestShape):
    """Picked by --riva-shape; -u, -r and -t keep their meaning."""

    use_common_options = True

    def tick(self):
        opts = self.runner.environment.parsed_options
        run_time = self.get_run_time()
        if opts.run_time and run_time >= opts.run_time:
            return None
        users = opts.num_users or 1
        if opts.riva_shape == "step":
            step = int(run_time // opts.riva_step_seconds) + 1
            return min(users, step * opts.riva_step_users), max(opts.spawn_rate, opts.riva_step_users)
        return users, opts.spawn_rate or users

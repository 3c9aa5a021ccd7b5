"""Reconcile Kafka topics with the metadata from the shell (what the periodic task does)."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from metadata.choices import SyncStatus
from metadata.reconcile import managed_targets, reconcile_all


class Command(BaseCommand):
    help = "Create missing topics and fix drifted ones (or only report, with --dry-run)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="report differences; change nothing on Kafka")
        parser.add_argument("--cluster", help="only topics on this cluster (cluster_name)")
        parser.add_argument("--table-id", help="only this result table's kafka storage")
        parser.add_argument("--budget", type=float, help="seconds allowed per cluster")
        parser.add_argument("--timeout", type=float, help="seconds allowed per Kafka request")

    def handle(self, *args: object, **options: object) -> None:
        targets = managed_targets()
        if options["cluster"]:
            targets = [t for t in targets if t.topic_cluster().cluster_name == options["cluster"]]  # type: ignore[attr-defined]
        if options["table_id"]:
            targets = [t for t in targets if getattr(t, "table_id", None) == options["table_id"]]
        if not targets:
            self.stdout.write("nothing to reconcile")
            return
        runs = reconcile_all(apply=not options["dry_run"], targets=targets,
                             cluster_budget=options["budget"], timeout=options["timeout"])  # type: ignore[arg-type]
        problems = 0
        for run in runs:
            self.stdout.write(f"cluster {run.cluster}" + (f": {run.error}" if run.error else ""))
            for _, result in run.results:
                problems += result.status != SyncStatus.IN_SYNC
                self.stdout.write("  " + result.summary())
            for target in run.skipped:
                self.stdout.write(f"  {target.topic_spec().name}: skipped (cluster time budget used up)")
        mode = "dry run" if options["dry_run"] else "applied"
        self.stdout.write(f"{mode}: {sum(len(r.results) for r in runs)} checked, {problems} not in sync")

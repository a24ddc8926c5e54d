"""tlskit's benchmark suite: tlskit against other HTTPS clients on a loopback TLS server."""

"""Operations: command line, embedded stores, worker and the `make run` launcher."""

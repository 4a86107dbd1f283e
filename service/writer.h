#ifndef OFFSTAT_WRITER_H
#define OFFSTAT_WRITER_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The writer: one thread that runs every write (Ingest) in arrival order,
 * so SQLite has one writer and NNG's callback threads never wait for a
 * disk sync or a snapshot reload. Between jobs, and at least every
 * sweep_ms, it calls sweep() (expiry of abandoned releases).
 */

/* Starts the thread. sweep may be NULL. Returns 0, or -1. */
int writer_start(void (*sweep)(void), unsigned sweep_ms);
/*
 * Queues fn(arg) to run on the writer thread. Returns 0, or -1 when the
 * writer is not running (the caller then runs the job itself).
 */
int writer_submit(void (*fn)(void *arg), void *arg);
/* Runs the jobs already queued, then stops the thread. */
void writer_stop(void);
/* Jobs queued and not yet finished. */
size_t writer_pending(void);

/*
 * True when the packed RpcRequest in req names a method that writes (its
 * field 1 read straight off the wire, the last one winning as protobuf
 * says). Malformed input is not a write: dispatch answers it.
 */
bool writer_wants(const void *req, size_t len);

#endif

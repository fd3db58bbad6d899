/* Reports gathered on one rank (comm.h's facs_comm_gather, loader_skip.h's
 * facs_skip_list_gather): run by ctest alone and under `mpirun -np 2` when MPI
 * is built. Ranks send different sizes (rank 0 nothing), to rank 0 and to the
 * last rank; skip lists that share a file come back with it once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "loader_skip.h"
#include "test_util.h"

static facs_comm *comm;
static int rank, ranks;

/* Rank r sends 3r bytes of 'a' + r. */
static void check_gather_to(int root)
{
    char mine[3 * 64];
    size_t n = (size_t)(3 * rank);
    memset(mine, 'a' + rank, n);
    void *all = NULL;
    size_t bytes = 0;
    if (!CHECK_OK(facs_comm_gather(comm, mine, n, root, &all, &bytes)))
        return;
    if (rank != root) {
        CHECK(all == NULL && bytes == 0, "rank %d (not root %d) got %zu bytes", rank, root, bytes);
        return;
    }
    size_t want = (size_t)(3 * ranks * (ranks - 1) / 2), at = 0;
    CHECK(bytes == want, "root %d gathered %zu bytes, want %zu", root, bytes, want);
    int in_order = bytes == want;
    for (int r = 0; r < ranks && in_order; r++)
        for (int k = 0; k < 3 * r; k++)
            in_order = ((char *)all)[at++] == 'a' + r;
    CHECK(in_order, "root %d: the bytes are not every rank's in rank order", root);
    free(all);
}

static void check_gather(void)
{
    check_gather_to(0);
    check_gather_to(ranks - 1);
    void *all = NULL;
    size_t bytes = 0;
    if (ranks == 1)
        CHECK(facs_comm_gather(comm, "x", 1, 1, &all, &bytes) == FACS_ERR_ARG && !all,
              "a single process gathered to rank 1");
}

/* Every rank skipped shared.png (index 5) and a file of its own (10 + rank); rank 0 also index 2. */
static void check_skip_lists(void)
{
    facs_skip_list mine, all;
    CHECK(facs_skip_list_init(&mine, 64) == 0, "skip list init");
    char own[64];
    snprintf(own, sizeof own, "rank%d.png: truncated", rank);
    facs_skip_list_add(&mine, 10 + rank, own);
    facs_skip_list_add(&mine, 5, "shared.png: truncated");
    if (rank == 0)
        facs_skip_list_add(&mine, 2, "first.png: truncated");
    if (CHECK_OK(facs_skip_list_gather(&mine, comm, 0, &all))) {
        int want = rank == 0 ? 2 + ranks : 0;
        CHECK(all.count == want, "rank %d: %d skipped files gathered, want %d", rank, all.count, want);
        if (rank == 0 && all.count == want) {
            CHECK(all.items[0].index == 2 && strcmp(all.items[0].message, "first.png: truncated") == 0,
                  "first item %d %s", all.items[0].index, all.items[0].message);
            CHECK(all.items[1].index == 5 && strcmp(all.items[1].message, "shared.png: truncated") == 0,
                  "second item %d %s", all.items[1].index, all.items[1].message);
            for (int r = 0; r < ranks; r++) {
                snprintf(own, sizeof own, "rank%d.png: truncated", r);
                CHECK(all.items[2 + r].index == 10 + r && strcmp(all.items[2 + r].message, own) == 0,
                      "rank %d's file came back as %d %s", r, all.items[2 + r].index, all.items[2 + r].message);
            }
        }
        facs_skip_list_free(&all);
    }
    /* No communicator: this rank's list alone. */
    if (CHECK_OK(facs_skip_list_gather(&mine, NULL, 0, &all))) {
        CHECK(all.count == mine.count, "without comm: %d items, want %d", all.count, mine.count);
        facs_skip_list_free(&all);
    }
    facs_skip_list_free(&mine);
}

int main(void)
{
    comm = facs_comm_open_or_exit("test_comm_gather", 1);
    rank = facs_comm_rank(comm);
    ranks = facs_comm_size(comm);
    printf("rank %d of %d (%s)\n", rank, ranks, facs_comm_transport(comm));
    check_gather();
    check_skip_lists();
    int result = test_finish();
    facs_comm_close(comm);
    return result;
}

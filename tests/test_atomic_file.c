/* kernels/atomic_file.h: a temporary left by a writer that was killed is
 * removed by the next write of this process into its folder (once per
 * folder); a live writer's temporary, and files that only look like ours,
 * are kept. An output whose name is near NAME_MAX is still written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic_file.h"
#include "test_util.h"

/* The pid of a child that has exited and been reaped: no process has it. */
static long dead_pid(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    return (long)pid;
}

static void touch(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
}

static int exists(const char *dir, const char *name)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static void print_line(FILE *f, const void *user) { fprintf(f, "%s\n", (const char *)user); }

/* Two 250-byte names that differ only at their end: the mark would take the
 * temporaries past NAME_MAX (255), so they are shortened, and stay distinct. */
static void check_long_names(const char *dir)
{
    char name[2][251], path[2][4200];
    facs_atomic_file a[2];
    for (int k = 0; k < 2; k++) {
        memset(name[k], 'n', 250);
        name[k][249] = (char)('a' + k);
        name[k][250] = '\0';
        snprintf(path[k], sizeof path[k], "%s/%s", dir, name[k]);
        CHECK_OK(facs_atomic_open(&a[k], path[k]));
    }
    CHECK(strcmp(a[0].tmp, a[1].tmp) != 0, "two long names share the temporary %s", a[0].tmp);
    for (int k = 0; k < 2; k++) {
        if (a[k].f)
            fputs(name[k], a[k].f);
        CHECK_OK(facs_atomic_commit(&a[k]));
        CHECK(exists(dir, name[k]), "the 250-byte name %c was not written", name[k][249]);
    }
    char dead[300];
    snprintf(dead, sizeof dead, "%.220s~0123abcd" FACS_ATOMIC_TMP_MARK "%ld", name[0], dead_pid());
    touch(dir, dead);
    CHECK(facs_atomic_remove_stale(dir) == 1 && !exists(dir, dead), "a killed writer's shortened temporary was left");
}

int main(void)
{
    char dir[] = "/tmp/facs_test_atomic_XXXXXX";
    if (!CHECK(mkdtemp(dir) != NULL, "mkdtemp"))
        return test_finish();
    char dead[64], live[64], later[64];
    snprintf(dead, sizeof dead, "out.h5" FACS_ATOMIC_TMP_MARK "%ld", dead_pid());
    snprintf(live, sizeof live, "other.png" FACS_ATOMIC_TMP_MARK "%ld", (long)getppid());
    touch(dir, dead);
    touch(dir, live);
    touch(dir, "notes" FACS_ATOMIC_TMP_MARK "abc");
    char target[4200];
    snprintf(target, sizeof target, "%s/log.txt", dir);
    CHECK_OK(facs_atomic_write_text(target, print_line, "first"));
    CHECK(exists(dir, "log.txt"), "the file was not written");
    CHECK(!exists(dir, dead), "a killed writer's temporary %s was left", dead);
    CHECK(exists(dir, live), "a live writer's temporary %s was removed", live);
    CHECK(exists(dir, "notes" FACS_ATOMIC_TMP_MARK "abc"), "a file that only looks like a temporary was removed");

    /* Once per folder: a later write there does not read the folder again. */
    snprintf(later, sizeof later, "late.csv" FACS_ATOMIC_TMP_MARK "%ld", dead_pid());
    touch(dir, later);
    CHECK_OK(facs_atomic_write_text(target, print_line, "second"));
    CHECK(exists(dir, later), "the folder was cleaned twice");
    CHECK(facs_atomic_remove_stale(dir) == 1 && !exists(dir, later), "facs_atomic_remove_stale left %s", later);

    check_long_names(dir);

    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "removing %s", dir);
    return test_finish();
}

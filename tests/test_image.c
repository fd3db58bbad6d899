/* The PNG and JPEG codecs (datasets/image.h) against PIL.
 *
 * tests/ref/ref_image.py writes PNGs of every colour type and bit depth
 * (including Adam7 interlaced and 16-bit ones), JPEGs (gray, 4:2:0, 4:2:2,
 * 4:4:4, progressive colour and gray, CMYK, baseline and progressive; one tagged
 * with an EXIF orientation, which PIL does not apply) and four photographs from
 * skimage.data, and the
 * arrays PIL decodes from each with convert("L"/"RGB"/"RGBA"). Every file is
 * decoded here with want_channels 0, 1, 3 and 4 and must match PIL bit for bit:
 * PNG decoding is lossless, and PIL decodes JPEGs with the same libjpeg-turbo
 * and the same defaults (accurate IDCT, fancy upsampling), so a single differing
 * byte means a different decoder path, not rounding. Each JPEG is also decoded
 * at 1/2, 1/4 and 1/8 of its size (facs_image_decode_draft) against PIL after
 * Image.draft, and facs_image_probe must give every file's size from its header.
 *
 * Then: label maps (palette indices, not colours), round trips through our own
 * writers, and bad input (truncated at many lengths, flipped bytes, a text file,
 * an empty file, a missing file), which must fail with a message naming the
 * file, never crash (the suite also runs under ASan/UBSan).
 *
 * 16-bit label images (facs_image16, for Cityscapes _instanceIds.png): exact
 * round trips, 8-bit gray widened, PIL reading our files and us reading PIL's to
 * the same values, and every other kind of file refused with its name.
 *
 * Last, writes that fail (a missing folder, a read-only one, a full disk
 * simulated with RLIMIT_FSIZE, a folder in the way) and one killed mid-write:
 * the target is left as it was, no temporary stays (or, after a kill, the one
 * left is a kernels/atomic_file.h temporary that facs_atomic_remove_stale clears). */
#define _XOPEN_SOURCE 700 /* SIGXFSZ, setrlimit */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic_file.h"
#include "image.h"
#include "test_util.h"

static char folder[4096];

/* The decode must fail with a message that names the file (and contains want, if given). */
static void expect_error(facs_status s, const char *name, const char *want, const char *what)
{
    const char *msg = facs_last_error();
    CHECK(s != FACS_OK && strstr(msg, name) && (!want || strstr(msg, want)),
          "%s: expected an error naming %s%s%s, got status %d: \"%s\"", what, name, want ? " and saying " : "",
          want ? want : "", (int)s, msg);
}

/* Compares an image with a PIL array (H, W) or (H, W, C), byte for byte. */
static void compare(const char *what, const facs_image *img, h5_file *ref, const char *key)
{
    int rank;
    size_t dims[8];
    int *want = h5_read_i32(ref, key, &rank, dims);
    if (!CHECK(want != NULL, "%s: reference %s missing", what, key))
        return;
    int channels = rank == 3 ? (int)dims[2] : 1;
    if (CHECK(img->height == (int)dims[0] && img->width == (int)dims[1] && img->channels == channels,
              "%s: got %dx%dx%d, PIL %zux%zux%d", what, img->height, img->width, img->channels, dims[0], dims[1],
              channels)) {
        size_t n = dims[0] * dims[1] * (size_t)channels, wrong = 0;
        int worst = 0;
        for (size_t i = 0; i < n; i++) {
            int d = abs((int)img->pixels[i] - want[i]);
            wrong += d != 0;
            worst = d > worst ? d : worst;
        }
        CHECK(wrong == 0, "%s: %zu of %zu bytes differ from PIL (max difference %d)", what, wrong, n, worst);
    }
    free(want);
}

/* The draft decodes of a JPEG case against PIL's. */
static void check_draft(h5_file *ref, const char *group, const char *path)
{
    uint8_t *buf;
    size_t len;
    if (!CHECK_OK(facs_file_read(path, &buf, &len)))
        return;
    for (int scale = 2; scale <= 8; scale *= 2) {
        char key[64], what[4300];
        snprintf(key, sizeof key, "%s/draft%d", group, scale);
        snprintf(what, sizeof what, "%s at 1/%d", path, scale);
        facs_image img;
        if (CHECK_OK(facs_image_decode_draft(buf, len, path, 3, scale, &img)))
            compare(what, &img, ref, key);
        facs_image_free(&img);
    }
    facs_image img;
    expect_error(facs_image_decode_draft(buf, len, path, 3, 3, &img), path, "1, 2, 4 or 8", "draft scale 3");
    free(buf);
}

/* The header's size equals the decoded size; a PNG has no draft decode. */
static void check_probe(const char *path, int jpeg)
{
    uint8_t *buf;
    size_t len;
    facs_image img;
    if (!CHECK_OK(facs_file_read(path, &buf, &len)) || !CHECK_OK(facs_image_decode(buf, len, path, 0, &img))) {
        free(buf);
        return;
    }
    int w, h, is_jpeg;
    if (CHECK_OK(facs_image_probe(buf, len, path, &w, &h, &is_jpeg)))
        CHECK(w == img.width && h == img.height && is_jpeg == jpeg, "%s: probe says %dx%d (jpeg %d), decoded %dx%d",
              path, w, h, is_jpeg, img.width, img.height);
    facs_image_free(&img);
    if (!jpeg)
        expect_error(facs_image_decode_draft(buf, len, path, 3, 2, &img), path, "no draft", "PNG at 1/2");
    free(buf);
}

static void check_case(h5_file *ref, int i)
{
    char group[32], path[4200], key[64], what[4300];
    snprintf(group, sizeof group, "/case%d", i);
    int jpeg = (int)h5_attr_int(ref, group, "jpeg", 0);
    snprintf(path, sizeof path, "%s/case%d.%s", folder, i, jpeg ? "jpg" : "png");
    facs_image img;
    static const struct { const char *key; int want; } modes[] = {{"native", 0}, {"L", 1}, {"RGB", 3}, {"RGBA", 4}};
    for (int m = 0; m < 4; m++) {
        snprintf(what, sizeof what, "%s as %s", path, modes[m].key);
        snprintf(key, sizeof key, "%s/%s", group, modes[m].key);
        if (CHECK_OK(facs_image_read(path, modes[m].want, &img)))
            compare(what, &img, ref, key);
        facs_image_free(&img);
    }
    if (jpeg)
        check_draft(ref, group, path);
    check_probe(path, jpeg);
    facs_status s = facs_image_read_label(path, &img);
    if (h5_attr_int(ref, group, "label", 0)) {
        snprintf(what, sizeof what, "%s as labels", path);
        snprintf(key, sizeof key, "%s/labels", group);
        if (CHECK(s == FACS_OK, "%s: %s", what, facs_last_error()))
            compare(what, &img, ref, key);
    } else {
        expect_error(s, path, jpeg ? "JPEG" : "PNG", "label map that is not one");
    }
    facs_image_free(&img);
}

/* Our writers, read back: PNG exactly; JPEG (quality 90, 4:2:0) with a mean
 * absolute error no larger than PIL's own encoder gives on the same image at the
 * same settings (measured by ref_image.py: ~2.4 levels for the RGB astronaut,
 * ~1.4-1.6 for gray). Both use libjpeg-turbo's accurate DCT and the standard
 * tables, so the two should agree to within 0.01; an encoder that swapped
 * channels, flipped rows or dropped the chroma would be off by tens. */
static void round_trip(h5_file *ref, const char *photo, const char *pil_key, int channels)
{
    double pil_mae = pil_key ? h5_attr_double(ref, "/", pil_key, -1.0) : -1.0;
    facs_image img, back;
    char out[4300], what[4400];
    if (!CHECK_OK(facs_image_read(photo, channels, &img)))
        return;
    snprintf(out, sizeof out, "%s/out_%d.png", folder, channels);
    snprintf(what, sizeof what, "PNG round trip of %s (%d channels)", photo, channels);
    if (CHECK_OK(facs_png_write(out, &img)) && CHECK_OK(facs_image_read(out, 0, &back))) {
        CHECK(back.width == img.width && back.height == img.height && back.channels == channels &&
                  memcmp(back.pixels, img.pixels, (size_t)img.width * img.height * channels) == 0,
              "%s: not identical", what);
        facs_image_free(&back);
    }
    if (channels != 4) {
        snprintf(out, sizeof out, "%s/out_%d.jpg", folder, channels);
        if (CHECK_OK(facs_jpeg_write(out, &img, 90)) && CHECK_OK(facs_image_read(out, 0, &back))) {
            size_t n = (size_t)img.width * img.height * channels;
            double sum = 0;
            for (size_t k = 0; k < n && back.channels == channels; k++)
                sum += abs((int)back.pixels[k] - img.pixels[k]);
            double mae = sum / (double)n;
            printf("JPEG q90 round trip of %s, %d channels: mean abs error %.4f (PIL's encoder: %.4f)\n", photo,
                   channels, mae, pil_mae);
            CHECK(back.width == img.width && back.height == img.height && back.channels == channels &&
                      mae <= pil_mae + 0.01,
                  "JPEG round trip of %s (%d channels): mean abs error %.4f > PIL's %.4f + 0.01", photo, channels,
                  mae, pil_mae);
            facs_image_free(&back);
        }
    }
    facs_image_free(&img);
}

static void truncated(const char *path)
{
    size_t len;
    uint8_t *buf = test_read_file(path, &len);
    if (!CHECK(buf != NULL, "cannot read %s", path))
        return;
    size_t cuts[] = {1, 2, 3, 8, 16, 33, 60, len / 4, len / 2, len - 13, len - 12, len - 2, len - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        char name[8800];
        snprintf(name, sizeof name, "%s cut at %zu", path, cuts[k]);
        facs_image img;
        expect_error(facs_image_decode(buf, cuts[k], name, 3, &img), name, NULL, "truncated file");
        CHECK(img.pixels == NULL, "%s: failed but left pixels", name);
        expect_error(facs_image_decode_draft(buf, cuts[k], name, 3, 1, &img), name, NULL, "truncated file, draft");
        int w, h, jpeg;
        if (cuts[k] < 24) /* short of any header's size */
            expect_error(facs_image_probe(buf, cuts[k], name, &w, &h, &jpeg), name, NULL, "truncated header");
    }
    /* And from disk, so the message names the real path. */
    char cut_path[4300];
    snprintf(cut_path, sizeof cut_path, "%s/cut_%s", folder, strrchr(path, '/') + 1);
    test_write_file(cut_path, buf, len / 2);
    facs_image img;
    expect_error(facs_image_read(cut_path, 0, &img), cut_path, "truncated", "truncated file on disk");
    free(buf);
}

/* Flips bytes one at a time over the whole file. Every chunk of a PNG carries a
 * CRC, so each flip must be caught. A JPEG has no checksum: a flip in entropy
 * coded data may decode to other pixels, which is fine; it must not crash, and
 * a success must keep the size. */
static void flipped(const char *path, int png)
{
    size_t len;
    uint8_t *buf = test_read_file(path, &len);
    if (!CHECK(buf != NULL, "cannot read %s", path))
        return;
    facs_image good;
    if (!CHECK_OK(facs_image_decode(buf, len, path, 0, &good)))
        return;
    int caught = 0, tries = 0;
    size_t step = len / 97 + 1;
    for (size_t at = 0; at < len; at += step, tries++) {
        char name[8800];
        snprintf(name, sizeof name, "%s with byte %zu flipped", path, at);
        buf[at] ^= 0x55;
        facs_image img;
        facs_status s = facs_image_decode(buf, len, name, 0, &img);
        buf[at] ^= 0x55;
        if (s != FACS_OK) {
            caught++;
            CHECK(strstr(facs_last_error(), name) && !img.pixels, "%s: error without the name: %s", name,
                  facs_last_error());
        } else {
            CHECK(!png, "%s: a corrupt PNG decoded", name);
            CHECK(img.width == good.width && img.height == good.height, "%s: size changed", name);
        }
        facs_image_free(&img);
    }
    printf("%s: %d of %d byte flips refused\n", path, caught, tries);
    facs_image_free(&good);
    free(buf);
}

static void bad_files(void)
{
    char path[4300];
    facs_image img;
    snprintf(path, sizeof path, "%s/missing.png", folder);
    expect_error(facs_image_read(path, 0, &img), path, "cannot open", "missing file");
    snprintf(path, sizeof path, "%s/empty.png", folder);
    test_write_file(path, "", 0);
    expect_error(facs_image_read(path, 0, &img), path, "empty", "empty file");
    expect_error(facs_image_read_label(path, &img), path, "empty", "empty label file");
    snprintf(path, sizeof path, "%s/text.png", folder);
    test_write_file(path, "not an image, just text\n", 24);
    expect_error(facs_image_read(path, 0, &img), path, "neither a PNG nor a JPEG", "text file");
    expect_error(facs_image_read(folder, 0, &img), folder, "not a regular file", "a folder");
    expect_error(facs_image_read(path, 2, &img), path, "want_channels", "want_channels 2");
    /* A JPEG whose start-of-scan marker is replaced by a reserved one. */
    snprintf(path, sizeof path, "%s/case14.jpg", folder);
    size_t len;
    uint8_t *buf = test_read_file(path, &len);
    for (size_t k = 0; buf && k + 1 < len; k++)
        if (buf[k] == 0xff && buf[k + 1] == 0xda) {
            buf[k + 1] = 0x01;
            break;
        }
    expect_error(facs_image_decode(buf, len, "no-scan.jpg", 3, &img), "no-scan.jpg", "corrupt", "JPEG without a scan");
    free(buf);

    uint8_t px[2 * 2 * 4] = {0};
    facs_image two = {2, 2, 2, px}, rgba = {2, 2, 4, px}, rgb = {2, 2, 3, px};
    snprintf(path, sizeof path, "%s/out_bad.png", folder);
    expect_error(facs_png_write(path, &two), path, "gray, RGB or RGBA", "PNG with 2 channels");
    expect_error(facs_jpeg_write(path, &rgba, 90), path, "no alpha", "RGBA JPEG");
    expect_error(facs_jpeg_write(path, &rgb, 0), path, "quality", "JPEG quality 0");
}

/* Has /usr/bin/python3 read each PNG to the values of its raw file (host-order
 * uint16, w x h)? args: "png raw w h" groups, each word single-quoted. Returns
 * -1 when Python or PIL is missing (the check is then skipped), else 1 or 0. */
static int pil_agrees(const char *args)
{
    if (system("/usr/bin/python3 -c 'import numpy, PIL' 2>/dev/null") != 0)
        return -1;
    static const char script[] =
        "import sys\nimport numpy as np\nfrom PIL import Image\n"
        "a = sys.argv[1:]\n"
        "for png, raw, w, h in zip(a[0::4], a[1::4], a[2::4], a[3::4]):\n"
        "    im = Image.open(png)\n"
        "    got = np.array(im).astype(np.int64)\n"
        "    want = np.fromfile(raw, '=u2').astype(np.int64).reshape(int(h), int(w))\n"
        "    if im.mode not in ('I', 'I;16') or got.shape != want.shape or (got != want).any():\n"
        "        sys.exit(f'{png}: PIL reads mode {im.mode}, {got.shape}, other values than ours')\n";
    char path[4300], cmd[24000];
    snprintf(path, sizeof path, "%s/pil16.py", folder);
    test_write_file(path, script, strlen(script));
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' %s", path, args);
    fflush(stdout);
    return system(cmd) == 0;
}

static int same16(const facs_image16 *a, const facs_image16 *b)
{
    return a->width == b->width && a->height == b->height && a->pixels && b->pixels &&
           memcmp(a->pixels, b->pixels, (size_t)a->width * a->height * sizeof *a->pixels) == 0;
}

/* 16-bit label images: values kept exactly both ways, 8-bit gray widened, PIL
 * agreeing, refusals naming the file. Uses ref_image.py's cases by number. */
static void image16(void)
{
    enum { W = 7, H = 3 };
    static const uint16_t edges[] = {0, 255, 256, 26001, 65535};
    uint16_t px[W * H];
    for (int i = 0; i < W * H; i++)
        px[i] = i < 5 ? edges[i] : (uint16_t)(((uint32_t)i * 2654435761u) >> 16);
    facs_image16 img = {W, H, px}, back;
    char ours[4300], raw_ours[4300], pil[4300], raw_pil[4300], path[4300], args[18000];
    snprintf(ours, sizeof ours, "%s/label16.png", folder);
    if (CHECK_OK(facs_png_write16(ours, &img)) && CHECK_OK(facs_image16_read(ours, &back)))
        CHECK(same16(&img, &back), "16-bit round trip of %s: values changed", ours);
    facs_image16_free(&back);
    /* The 8-bit image reader clips the same file at 255, as PIL's convert("L"). */
    facs_image clipped;
    if (CHECK_OK(facs_image_read(ours, 1, &clipped))) {
        int wrong = 0;
        for (int i = 0; i < W * H; i++)
            wrong += clipped.pixels[i] != (px[i] > 255 ? 255 : px[i]);
        CHECK(wrong == 0, "%s as 8-bit: %d pixels are not min(v, 255)", ours, wrong);
    }
    facs_image_free(&clipped);

    /* 8-bit gray (case 0) comes out widened, not scaled: the label map's values. */
    facs_image gray8;
    snprintf(path, sizeof path, "%s/case0.png", folder);
    if (CHECK_OK(facs_image_read_label(path, &gray8)) && CHECK_OK(facs_image16_read(path, &back))) {
        int wrong = back.width != gray8.width || back.height != gray8.height;
        for (int i = 0; !wrong && i < gray8.width * gray8.height; i++)
            wrong += back.pixels[i] != gray8.pixels[i];
        CHECK(wrong == 0, "%s read as 16-bit: %d values differ from its 8-bit samples", path, wrong);
    }
    facs_image_free(&gray8);
    facs_image16_free(&back);

    /* PIL reads our file to our values, and we read PIL's 16-bit gray (case 7) to its. */
    snprintf(pil, sizeof pil, "%s/case7.png", folder);
    snprintf(raw_ours, sizeof raw_ours, "%s/label16.raw", folder);
    snprintf(raw_pil, sizeof raw_pil, "%s/case7.raw", folder);
    test_write_file(raw_ours, px, sizeof px);
    if (CHECK_OK(facs_image16_read(pil, &back))) {
        test_write_file(raw_pil, back.pixels, (size_t)back.width * back.height * sizeof *back.pixels);
        snprintf(args, sizeof args, "'%s' '%s' %d %d '%s' '%s' %d %d", ours, raw_ours, W, H, pil, raw_pil,
                 back.width, back.height);
        int agrees = pil_agrees(args);
        if (agrees < 0)
            printf("16-bit PNGs against PIL: skipped (no numpy or PIL for /usr/bin/python3)\n");
        CHECK(agrees != 0, "PIL and facs_image16 read different values (see above)");
    }
    facs_image16_free(&back);

    /* Everything else is refused, naming the file and what it is. */
    static const struct { const char *file, *says; } refused[] = {
        {"case2.png", "8-bit RGB"},      {"case4.png", "palette"},  {"case1.png", "gray+alpha"},
        {"case8.png", "16-bit RGB"},     {"case11.png", "2-bit gray"}, {"case13.jpg", "JPEG"},
    };
    for (size_t k = 0; k < sizeof refused / sizeof *refused; k++) {
        snprintf(path, sizeof path, "%s/%s", folder, refused[k].file);
        expect_error(facs_image16_read(path, &back), path, refused[k].says, "a file that is no 16-bit label image");
        CHECK(!back.pixels, "%s: refused but left pixels", path);
    }
    size_t len;
    uint8_t *buf = test_read_file(ours, &len);
    snprintf(path, sizeof path, "%s/cut_label16.png", folder);
    if (CHECK(buf != NULL, "cannot read %s", ours))
        test_write_file(path, buf, len / 2);
    expect_error(facs_image16_read(path, &back), path, "truncated", "a truncated 16-bit PNG");
    for (size_t cut = 0; buf && cut < len; cut += 7) /* every prefix: an error, never a crash or pixels */
        CHECK(facs_image16_decode(buf, cut, "prefix", &back) != FACS_OK && !back.pixels,
              "16-bit PNG cut at %zu of %zu bytes decoded", cut, len);
    free(buf);

    /* Writes: an empty image is refused, a missing folder leaves nothing. */
    facs_image16 empty = {0, 0, NULL};
    snprintf(path, sizeof path, "%s/empty16.png", folder);
    expect_error(facs_png_write16(path, &empty), path, "non-empty", "an empty 16-bit image");
    snprintf(path, sizeof path, "%s/no_such/label16.png", folder);
    expect_error(facs_png_write16(path, &img), path, "cannot create", "a 16-bit write into a missing folder");
}

/* Temporaries in dir: kernels/atomic_file.h's, and the ".tmp." ones of older writers. */
static int temporaries_in(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int left = 0;
    for (struct dirent *e; (e = readdir(d));)
        left += strstr(e->d_name, FACS_ATOMIC_TMP_MARK) != NULL || strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return left;
}

/* Atomic writes leave no temporary file behind. */
static void no_temporaries(void)
{
    int left = temporaries_in(folder);
    CHECK(left == 0, "%d temporary files left in %s", left, folder);
}

static int is_there(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* 1 when the file at path holds exactly len bytes of data. */
static int holds(const char *path, const uint8_t *data, size_t len)
{
    size_t got;
    uint8_t *buf = test_read_file(path, &got);
    int same = buf && got == len && memcmp(buf, data, len) == 0;
    free(buf);
    return same;
}

/* Removes the plain files and empty folders in dir. */
static void empty_folder(const char *dir)
{
    DIR *d = opendir(dir);
    char p[4400];
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (unlink(p) != 0)
                rmdir(p);
        }
    if (d)
        closedir(d);
}

/* Caps the files this process writes at limit bytes; with sigxfsz SIG_IGN a write
 * past it fails with EFBIG (a full disk, as the writer sees it), with SIG_DFL the
 * kernel kills the process there (a crash mid-write). */
static struct rlimit cap_file_size(rlim_t limit, void (*sigxfsz)(int))
{
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit capped = {limit, old.rlim_max};
    signal(SIGXFSZ, sigxfsz);
    CHECK(setrlimit(RLIMIT_FSIZE, &capped) == 0, "setrlimit(RLIMIT_FSIZE, %lu): %s", (unsigned long)limit,
          strerror(errno));
    return old;
}

/* A PNG write that fails leaves the target as it was and no temporary; one
 * killed mid-write leaves a temporary that facs_atomic_remove_stale recognises. */
static void failed_writes(void)
{
    enum { SIDE = 128 };
    uint8_t *noise = malloc(SIDE * SIDE * 3);
    uint32_t x = 2463534242u; /* xorshift32: noise no PNG filter predicts, so ~48 KiB of PNG */
    for (int i = 0; i < SIDE * SIDE * 3; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        noise[i] = (uint8_t)(x >> 24);
    }
    facs_image big = {SIDE, SIDE, 3, noise};
    char dir[4300], path[4400];

    /* A folder that does not exist: an error, and nothing created. */
    snprintf(dir, sizeof dir, "%s/no/such", folder);
    snprintf(path, sizeof path, "%s/x.png", dir);
    expect_error(facs_png_write(path, &big), path, "cannot create", "write into a missing folder");
    snprintf(dir, sizeof dir, "%s/no", folder);
    CHECK(!is_there(dir), "a failed write created %s", dir);

    /* An existing file, then writes over it that fail (in a folder of their own,
     * emptied first: a run of older code may have left files there). */
    snprintf(dir, sizeof dir, "%s/writes", folder);
    empty_folder(dir);
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/keep.png", dir);
    uint8_t small_px[4 * 4 * 3] = {1, 2, 3};
    facs_image small = {4, 4, 3, small_px};
    size_t keep_len = 0;
    uint8_t *keep = NULL;
    if (CHECK_OK(facs_png_write(path, &small)))
        keep = test_read_file(path, &keep_len);
    CHECK(keep && keep_len > 0 && keep_len < 512, "keep.png: %zu bytes", keep_len);

    /* The disk fills up (RLIMIT_FSIZE, SIGXFSZ ignored: write fails with EFBIG). */
    struct rlimit old = cap_file_size(4096, SIG_IGN);
    facs_status s = facs_png_write(path, &big);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    expect_error(s, path, "File too large", "write past RLIMIT_FSIZE");
    CHECK(keep && holds(path, keep, keep_len), "a failed write changed %s", path);
    CHECK(temporaries_in(dir) == 0, "a failed write left %d temporaries in %s", temporaries_in(dir), dir);

    /* A folder where the file should go: the rename fails, the folder stays. */
    char in_the_way[4500];
    snprintf(in_the_way, sizeof in_the_way, "%s/a_folder.png", dir);
    mkdir(in_the_way, 0777);
    expect_error(facs_png_write(in_the_way, &small), in_the_way, NULL, "write over a folder");
    struct stat st;
    CHECK(stat(in_the_way, &st) == 0 && S_ISDIR(st.st_mode), "write over a folder replaced it");
    rmdir(in_the_way);
    CHECK(temporaries_in(dir) == 0, "a write over a folder left %d temporaries", temporaries_in(dir));

    /* A read-only folder (root writes there anyway, so only as another user). */
    if (geteuid() != 0) {
        chmod(dir, 0555);
        expect_error(facs_png_write(path, &big), path, "Permission denied", "write into a read-only folder");
        chmod(dir, 0777);
        CHECK(keep && holds(path, keep, keep_len), "a refused write changed %s", path);
        CHECK(temporaries_in(dir) == 0, "a refused write left %d temporaries", temporaries_in(dir));
    } else {
        printf("read-only folder: skipped (running as root)\n");
    }

    /* Killed mid-write (SIGXFSZ at the size cap): the target is untouched and the
     * temporary left is one facs_atomic_remove_stale recognises and removes. */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        cap_file_size(4096, SIG_DFL);
        facs_png_write(path, &big);
        _exit(0); /* not reached: the write past the cap kills the process */
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ,
          "the writer was not killed by SIGXFSZ (status %d)", status);
    CHECK(keep && holds(path, keep, keep_len), "a write killed midway changed %s", path);
    int stale = temporaries_in(dir), removed = facs_atomic_remove_stale(dir);
    CHECK(stale == 1 && removed == 1 && temporaries_in(dir) == 0,
          "killed write: %d temporaries, facs_atomic_remove_stale removed %d, %d left", stale, removed,
          temporaries_in(dir));
    CHECK(keep && holds(path, keep, keep_len), "removing the stale temporary touched %s", path);

    empty_folder(dir);
    rmdir(dir);
    free(keep);
    free(noise);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    snprintf(folder, sizeof folder, "%s.d", argv[1]);
    int cases = (int)h5_attr_int(ref, "/", "cases", 0);
    CHECK(cases >= 31, "reference has %d cases, expected 31", cases);
    for (int i = 0; i < cases; i++)
        check_case(ref, i);
    char path[4300];
    snprintf(path, sizeof path, "%s/case19.png", folder); /* astronaut */
    round_trip(ref, path, "pil_mae_astronaut_gray", 1);
    round_trip(ref, path, "pil_mae_astronaut_rgb", 3);
    round_trip(ref, path, NULL, 4);
    snprintf(path, sizeof path, "%s/case23.png", folder); /* camera, gray */
    round_trip(ref, path, "pil_mae_camera_gray", 1);
    const char *small[] = {"case2.png", "case9.png", "case6.png", "case14.jpg", "case17.jpg", "case13.jpg"};
    for (int k = 0; k < 6; k++) {
        snprintf(path, sizeof path, "%s/%s", folder, small[k]);
        truncated(path);
        flipped(path, strstr(small[k], ".png") != NULL);
    }
    bad_files();
    image16();
    failed_writes();
    no_temporaries();
    h5_close(ref);
    return test_finish();
}

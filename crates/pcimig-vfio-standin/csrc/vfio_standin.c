/*
 * pcimig-vfio-standin: a userspace stand-in for the Linux VFIO user API, loaded into an
 * unmodified qemu-system-x86_64 with LD_PRELOAD.
 *
 * It presents the type1 container /dev/vfio/vfio, one group /dev/vfio/N and one vfio-pci
 * device whose config region is served from an image file, with BAR and ROM regions of the
 * sizes given, INTx/MSI/MSI-X/ERR/REQ interrupt info derived from the image as the kernel's
 * vfio_pci_get_irq_count() derives it, device reset, and migration v2 (STOP_COPY with an
 * empty device-data stream, DMA logging for dirty-page tracking).
 *
 * Structures and semantics follow linux/vfio.h and QEMU 10.0.2's hw/vfio/{container,common,
 * helpers,migration,pci}.c. Every VFIO ioctl or entry point it does not handle prints the
 * call and request on stderr and aborts, so QEMU never silently realizes something else.
 *
 * Configuration (set by the Rust harness):
 *   PCIMIG_VFIO_CONFIG   path of the config image (256 or 4096 bytes, header type 0)
 *   PCIMIG_VFIO_BAR0..5  BAR region sizes in bytes (default 0: not implemented)
 *   PCIMIG_VFIO_ROM      ROM region size in bytes (default 0: no ROM, as the kernel reports)
 *   PCIMIG_VFIO_GROUP    IOMMU group number N of /dev/vfio/N (default 42)
 *   PCIMIG_VFIO_NAME     device name QEMU asks the group for (default 0000:00:00.0)
 *   PCIMIG_VFIO_TRACE    if set, every VFIO call is traced on stderr
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

/* Newer than some distributions' linux/vfio.h (added in Linux 6.3): as in QEMU's copy. */
#ifndef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE 9
struct vfio_device_feature_mig_data_size {
    __aligned_u64 stop_copy_length;
};
#endif

#define PFX "pcimig-vfio-standin: "
#define MAX_FDS 65536
#define CONFIG_REGION_INDEX VFIO_PCI_CONFIG_REGION_INDEX
#define OFFSET_SHIFT 40 /* the kernel's VFIO_PCI_OFFSET_SHIFT */
#define MIG_DATA_SIZE_ESTIMATE 4096 /* QEMU refuses a zero stop-copy size */

enum fd_kind { FD_NONE, FD_CONTAINER, FD_GROUP, FD_DEVICE, FD_MIG_DATA };

static const char *kind_name(int k)
{
    static const char *names[] = { "other", "container", "group", "device", "migration data" };
    return names[k];
}

static struct {
    pthread_mutex_t lock;
    int loaded;
    int refused; /* header type not 0: the kernel's vfio-pci would not bind the device */
    int trace;
    uint8_t cfg[4096];
    size_t cfg_size;
    uint64_t bar_size[6];
    uint64_t rom_size;
    int group;
    char name[64];
    int iommu_set;
    int container_set;
    uint32_t mig_state;
    unsigned char fd_kind[MAX_FDS];
} st = { .lock = PTHREAD_MUTEX_INITIALIZER, .mig_state = VFIO_DEVICE_STATE_RUNNING };

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PFX "FATAL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    abort();
}

static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace(const char *fmt, ...)
{
    va_list ap;
    if (!st.trace) {
        return;
    }
    va_start(ap, fmt);
    fputs(PFX, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void *real_sym(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        die("dlsym(RTLD_NEXT, %s) failed: %s", name, dlerror());
    }
    return f;
}

#define REAL(ret, name, params) \
    static ret(*real_fn) params; \
    if (!real_fn) { \
        real_fn = (ret(*) params)real_sym(name); \
    }

static int kind_of(int fd)
{
    if (fd < 0 || fd >= MAX_FDS) {
        return FD_NONE;
    }
    return __atomic_load_n(&st.fd_kind[fd], __ATOMIC_ACQUIRE);
}

static void set_kind(int fd, int kind)
{
    if (fd < 0 || fd >= MAX_FDS) {
        die("file descriptor %d out of the stand-in's table", fd);
    }
    __atomic_store_n(&st.fd_kind[fd], (unsigned char)kind, __ATOMIC_RELEASE);
}

/* ---- configuration ---------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    char *end;
    uint64_t x;
    if (!v || !*v) {
        return dflt;
    }
    errno = 0;
    x = strtoull(v, &end, 0);
    if (errno || *end) {
        die("%s=%s is not a number", name, v);
    }
    return x;
}

static void load_image(void)
{
    const char *path = getenv("PCIMIG_VFIO_CONFIG");
    FILE *f;
    size_t n;
    if (!path || !*path) {
        die("PCIMIG_VFIO_CONFIG is not set (path of the config image to present)");
    }
    f = fopen(path, "rb");
    if (!f) {
        die("cannot open PCIMIG_VFIO_CONFIG=%s: %s", path, strerror(errno));
    }
    n = fread(st.cfg, 1, sizeof(st.cfg), f);
    if (fgetc(f) != EOF || (n != 256 && n != 4096)) {
        die("%s: a config image is 256 or 4096 bytes", path);
    }
    fclose(f);
    st.cfg_size = n;
}

static void load_config(void)
{
    char var[32];
    const char *name;
    int i;
    if (st.loaded) {
        return;
    }
    st.trace = getenv("PCIMIG_VFIO_TRACE") != NULL;
    load_image();
    for (i = 0; i < 6; i++) {
        snprintf(var, sizeof(var), "PCIMIG_VFIO_BAR%d", i);
        st.bar_size[i] = env_u64(var, 0);
        if (st.bar_size[i] & (st.bar_size[i] - 1)) {
            die("%s=0x%" PRIx64 " is not a power of two", var, st.bar_size[i]);
        }
    }
    st.rom_size = env_u64("PCIMIG_VFIO_ROM", 0);
    if (st.rom_size & (st.rom_size - 1)) {
        die("PCIMIG_VFIO_ROM=0x%" PRIx64 " is not a power of two", st.rom_size);
    }
    st.group = (int)env_u64("PCIMIG_VFIO_GROUP", 42);
    name = getenv("PCIMIG_VFIO_NAME");
    snprintf(st.name, sizeof(st.name), "%s", name && *name ? name : "0000:00:00.0");
    if ((st.cfg[PCI_HEADER_TYPE] & 0x7f) != 0) {
        st.refused = 1;
        fprintf(stderr,
                PFX "header type 0x%02x is not 0: the kernel's vfio-pci binds only normal "
                    "(type 0) devices, so /dev/vfio/%d does not exist\n",
                st.cfg[PCI_HEADER_TYPE], st.group);
    }
    st.loaded = 1;
}

/* ---- the kernel's view of the image ----------------------------------- */

/* pci_find_capability() as the kernel walks it (__pci_find_next_cap_ttl, 48 steps). */
static int find_capability(uint8_t id)
{
    int ttl = 48;
    uint8_t pos;
    if (!(st.cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST)) {
        return 0;
    }
    pos = st.cfg[PCI_CAPABILITY_LIST];
    while (ttl--) {
        if (pos < 0x40) {
            break;
        }
        pos &= ~3;
        if (st.cfg[pos] == 0xff) {
            break;
        }
        if (st.cfg[pos] == id) {
            return pos;
        }
        pos = st.cfg[pos + PCI_CAP_LIST_NEXT];
    }
    return 0;
}

static uint16_t cfg_word(int off)
{
    return (uint16_t)(st.cfg[off] | st.cfg[off + 1] << 8);
}

/* vfio_pci_get_irq_count() of drivers/vfio/pci/vfio_pci_core.c */
static uint32_t irq_count(uint32_t index)
{
    int pos;
    switch (index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
        return st.cfg[PCI_INTERRUPT_PIN] ? 1 : 0;
    case VFIO_PCI_MSI_IRQ_INDEX:
        pos = find_capability(PCI_CAP_ID_MSI);
        return pos ? 1u << ((cfg_word(pos + PCI_MSI_FLAGS) & PCI_MSI_FLAGS_QMASK) >> 1) : 0;
    case VFIO_PCI_MSIX_IRQ_INDEX:
        pos = find_capability(PCI_CAP_ID_MSIX);
        return pos ? (uint32_t)(cfg_word(pos + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_QSIZE) + 1 : 0;
    case VFIO_PCI_ERR_IRQ_INDEX:
        return find_capability(PCI_CAP_ID_EXP) ? 1 : 0;
    case VFIO_PCI_REQ_IRQ_INDEX:
        return 1;
    default:
        return 0;
    }
}

static uint64_t region_size(uint32_t index)
{
    if (index <= VFIO_PCI_BAR5_REGION_INDEX) {
        return st.bar_size[index];
    }
    if (index == VFIO_PCI_ROM_REGION_INDEX) {
        return st.rom_size;
    }
    if (index == CONFIG_REGION_INDEX) {
        return st.cfg_size;
    }
    return 0;
}

/* ---- config region writes --------------------------------------------- */

/* Whether BAR n is the upper dword of a 64-bit memory BAR (its lower half is BAR n-1). */
static int bar_is_upper_half(int n)
{
    uint8_t lo;
    if (n == 0) {
        return 0;
    }
    lo = st.cfg[PCI_BASE_ADDRESS_0 + 4 * (n - 1)];
    return !(lo & PCI_BASE_ADDRESS_SPACE_IO) &&
           (lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64 &&
           !bar_is_upper_half(n - 1) && st.bar_size[n - 1];
}

/*
 * A write to BAR n (or the ROM, n == 6) keeps only the address bits the region's size
 * allows and the BAR's type bits, as the kernel's vfio_bar_fixup() presents them: a BAR or
 * ROM of size 0 reads as 0, which is how QEMU's vfio_pci_size_rom() finds no ROM.
 */
static uint32_t bar_write_value(int n, uint32_t old, uint32_t val)
{
    uint64_t size, mask;
    if (n == 6) {
        if (!st.rom_size) {
            return 0;
        }
        return val & ((uint32_t)~(st.rom_size - 1) | PCI_ROM_ADDRESS_ENABLE) &
               (PCI_ROM_ADDRESS_MASK | PCI_ROM_ADDRESS_ENABLE);
    }
    if (bar_is_upper_half(n)) {
        mask = ~(st.bar_size[n - 1] - 1);
        return val & (uint32_t)(mask >> 32);
    }
    size = st.bar_size[n];
    if (!size) {
        return 0;
    }
    mask = ~(size - 1);
    if (old & PCI_BASE_ADDRESS_SPACE_IO) {
        return (val & (uint32_t)mask & PCI_BASE_ADDRESS_IO_MASK) | (old & ~PCI_BASE_ADDRESS_IO_MASK);
    }
    return (val & (uint32_t)mask & (uint32_t)PCI_BASE_ADDRESS_MEM_MASK) |
           (old & ~(uint32_t)PCI_BASE_ADDRESS_MEM_MASK);
}

static uint32_t cfg_dword(int off)
{
    return (uint32_t)cfg_word(off) | (uint32_t)cfg_word(off + 2) << 16;
}

static void write_bar_byte(int off, uint8_t b)
{
    int base = off & ~3, n;
    uint32_t old = cfg_dword(base), val = old, out;
    n = base == PCI_ROM_ADDRESS ? 6 : (base - PCI_BASE_ADDRESS_0) / 4;
    val &= ~(0xffu << (8 * (off & 3)));
    val |= (uint32_t)b << (8 * (off & 3));
    /* A partial write keeps the other bytes; the fixup applies once the dword is complete. */
    out = (off & 3) == 3 ? bar_write_value(n, old, val) : val;
    st.cfg[base] = (uint8_t)out;
    st.cfg[base + 1] = (uint8_t)(out >> 8);
    st.cfg[base + 2] = (uint8_t)(out >> 16);
    st.cfg[base + 3] = (uint8_t)(out >> 24);
}

/*
 * One byte written by QEMU into the config region. The header keeps the kernel's read-only
 * fields (IDs, class, header type, capability pointer, Interrupt Pin); Command, Cache Line
 * Size, Latency Timer and Interrupt Line take the value, Status is write-1-to-clear, BARs and
 * the ROM are sized. Capability bytes (0x40 on) keep what QEMU writes.
 */
static void write_cfg_byte(int off, uint8_t b)
{
    if (off >= PCI_BASE_ADDRESS_0 && off < PCI_CARDBUS_CIS) {
        write_bar_byte(off, b);
        return;
    }
    if (off >= PCI_ROM_ADDRESS && off < PCI_ROM_ADDRESS + 4) {
        write_bar_byte(off, b);
        return;
    }
    switch (off) {
    case PCI_COMMAND:
    case PCI_COMMAND + 1:
    case PCI_CACHE_LINE_SIZE:
    case PCI_LATENCY_TIMER:
    case PCI_INTERRUPT_LINE:
        st.cfg[off] = b;
        return;
    case PCI_STATUS + 1:
        st.cfg[off] &= (uint8_t)~(b & 0xf9); /* the error bits 15:11 and 8 are RW1C */
        return;
    default:
        if (off >= 0x40) {
            st.cfg[off] = b;
        }
    }
}

/* ---- device region reads and writes ----------------------------------- */

static ssize_t region_rw(const char *call, int fd, void *buf, size_t count, off_t offset, int write)
{
    uint32_t index = (uint32_t)((uint64_t)offset >> OFFSET_SHIFT);
    uint64_t off = (uint64_t)offset & ((1ull << OFFSET_SHIFT) - 1), size;
    size_t i;
    pthread_mutex_lock(&st.lock);
    size = region_size(index);
    trace("%s(device fd %d, region %u, offset 0x%" PRIx64 ", %zu bytes)", call, fd, index, off, count);
    if (index > CONFIG_REGION_INDEX || off > size || count > size - off) {
        die("%s(device fd %d, %zu bytes at region %u offset 0x%" PRIx64
            "): outside the region (size 0x%" PRIx64 ")",
            call, fd, count, index, off, size);
    }
    if (index == CONFIG_REGION_INDEX) {
        for (i = 0; i < count; i++) {
            if (write) {
                write_cfg_byte((int)(off + i), ((const uint8_t *)buf)[i]);
            } else {
                ((uint8_t *)buf)[i] = st.cfg[off + i];
            }
        }
    } else if (!write) {
        /* BAR and ROM contents are not modelled: reads return all ones. */
        memset(buf, 0xff, count);
    }
    pthread_mutex_unlock(&st.lock);
    return (ssize_t)count;
}

/* ---- ioctls ----------------------------------------------------------- */

static int fail(int err)
{
    errno = err;
    return -1;
}

static int new_fd(int kind, int cloexec)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR | (cloexec ? O_CLOEXEC : 0));
    if (fd < 0) {
        die("cannot open /dev/null to back a %s fd: %s", kind_name(kind), strerror(errno));
    }
    set_kind(fd, kind);
    return fd;
}

static int container_ioctl(int fd, unsigned long req, void *arg)
{
    switch (req) {
    case VFIO_GET_API_VERSION:
        return VFIO_API_VERSION;
    case VFIO_CHECK_EXTENSION: {
        unsigned long ext = (unsigned long)arg;
        /* vfio_iommu_type1_check_extension(): what a type1 IOMMU answers yes to */
        return ext == VFIO_TYPE1_IOMMU || ext == VFIO_TYPE1v2_IOMMU ||
               ext == VFIO_DMA_CC_IOMMU || ext == VFIO_UNMAP_ALL;
    }
    case VFIO_SET_IOMMU:
        if ((unsigned long)arg != VFIO_TYPE1v2_IOMMU && (unsigned long)arg != VFIO_TYPE1_IOMMU) {
            die("ioctl(container fd %d, VFIO_SET_IOMMU, %lu): only type1 is presented", fd,
                (unsigned long)arg);
        }
        if (!st.container_set) {
            return fail(EINVAL); /* the kernel needs a group in the container first */
        }
        st.iommu_set = 1;
        return 0;
    case VFIO_IOMMU_GET_INFO: {
        struct vfio_iommu_type1_info *info = arg;
        if (info->argsz < offsetof(struct vfio_iommu_type1_info, cap_offset)) {
            return fail(EINVAL);
        }
        info->flags = VFIO_IOMMU_INFO_PGSIZES;
        info->iova_pgsizes = 0x40201000; /* 4K, 2M, 1G */
        if (info->argsz >= sizeof(*info)) {
            info->cap_offset = 0;
        }
        return 0;
    }
    case VFIO_IOMMU_MAP_DMA:
        return 0;
    case VFIO_IOMMU_UNMAP_DMA: {
        struct vfio_iommu_type1_dma_unmap *unmap = arg;
        if (unmap->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
            die("ioctl(container fd %d, VFIO_IOMMU_UNMAP_DMA with GET_DIRTY_BITMAP): container "
                "dirty tracking is not presented", fd);
        }
        return 0;
    }
    default:
        die("ioctl(container fd %d, request 0x%lx): not handled by the stand-in", fd, req);
    }
}

static int group_ioctl(int fd, unsigned long req, void *arg)
{
    switch (req) {
    case VFIO_GROUP_GET_STATUS: {
        struct vfio_group_status *s = arg;
        s->flags = VFIO_GROUP_FLAGS_VIABLE | (st.container_set ? VFIO_GROUP_FLAGS_CONTAINER_SET : 0);
        return 0;
    }
    case VFIO_GROUP_SET_CONTAINER:
        if (kind_of(*(int *)arg) != FD_CONTAINER) {
            die("ioctl(group fd %d, VFIO_GROUP_SET_CONTAINER, fd %d): not a container", fd, *(int *)arg);
        }
        if (st.container_set) {
            return fail(EBUSY);
        }
        st.container_set = 1;
        return 0;
    case VFIO_GROUP_UNSET_CONTAINER:
        st.container_set = 0;
        st.iommu_set = 0;
        return 0;
    case VFIO_GROUP_GET_DEVICE_FD:
        if (strcmp((const char *)arg, st.name) != 0) {
            die("ioctl(group fd %d, VFIO_GROUP_GET_DEVICE_FD, \"%s\"): the group holds only %s", fd,
                (const char *)arg, st.name);
        }
        if (!st.container_set || !st.iommu_set) {
            return fail(EINVAL);
        }
        return new_fd(FD_DEVICE, 1);
    default:
        die("ioctl(group fd %d, request 0x%lx): not handled by the stand-in", fd, req);
    }
}

static int device_get_region_info(struct vfio_region_info *info)
{
    uint64_t size;
    if (info->argsz < offsetof(struct vfio_region_info, offset) + sizeof(info->offset)) {
        return fail(EINVAL);
    }
    if (info->index >= VFIO_PCI_NUM_REGIONS || info->index == VFIO_PCI_VGA_REGION_INDEX) {
        return fail(EINVAL); /* no VGA, no device-specific regions */
    }
    size = region_size(info->index);
    info->offset = (uint64_t)info->index << OFFSET_SHIFT;
    info->size = size;
    info->flags = 0;
    if (size) {
        info->flags = VFIO_REGION_INFO_FLAG_READ;
        if (info->index != VFIO_PCI_ROM_REGION_INDEX) {
            info->flags |= VFIO_REGION_INFO_FLAG_WRITE;
        }
    }
    info->cap_offset = 0;
    return 0;
}

static int device_get_irq_info(struct vfio_irq_info *info)
{
    if (info->argsz < sizeof(*info) || info->index >= VFIO_PCI_NUM_IRQS) {
        return fail(EINVAL);
    }
    /* vfio_pci_ioctl_get_irq_info(): ERR only for PCI Express devices */
    if (info->index == VFIO_PCI_ERR_IRQ_INDEX && !find_capability(PCI_CAP_ID_EXP)) {
        return fail(EINVAL);
    }
    info->flags = VFIO_IRQ_INFO_EVENTFD;
    info->count = irq_count(info->index);
    if (info->index == VFIO_PCI_INTX_IRQ_INDEX) {
        info->flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
    } else {
        info->flags |= VFIO_IRQ_INFO_NORESIZE;
    }
    return 0;
}

/* vfio_pci_set_irqs_ioctl() argument checks; the interrupts themselves never fire. */
static int device_set_irqs(struct vfio_irq_set *set)
{
    uint32_t max;
    if (set->argsz < sizeof(*set) || set->index >= VFIO_PCI_NUM_IRQS) {
        return fail(EINVAL);
    }
    max = irq_count(set->index);
    if (set->start >= max || set->count > max - set->start) {
        if (!(set->count == 0 && (set->flags & VFIO_IRQ_SET_DATA_NONE))) {
            return fail(EINVAL);
        }
    }
    return 0;
}

static int device_hot_reset_info(struct vfio_pci_hot_reset_info *info)
{
    unsigned dom, bus, dev, fn;
    size_t need = sizeof(*info) + sizeof(info->devices[0]);
    info->flags = 0;
    info->count = 1;
    if (info->argsz < need) {
        return fail(ENOSPC);
    }
    if (sscanf(st.name, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4) {
        die("PCIMIG_VFIO_NAME=%s is not a PCI address (needed for VFIO_DEVICE_GET_PCI_HOT_RESET_INFO)",
            st.name);
    }
    info->devices[0].group_id = (uint32_t)st.group;
    info->devices[0].segment = (uint16_t)dom;
    info->devices[0].bus = (uint8_t)bus;
    info->devices[0].devfn = (uint8_t)(dev << 3 | fn);
    return 0;
}

static int mig_device_state(int fd, uint32_t flags, struct vfio_device_feature_mig_state *ms)
{
    if (flags & VFIO_DEVICE_FEATURE_GET) {
        ms->device_state = st.mig_state;
        ms->data_fd = -1;
        return 0;
    }
    switch (ms->device_state) {
    case VFIO_DEVICE_STATE_STOP:
    case VFIO_DEVICE_STATE_RUNNING:
        ms->data_fd = -1;
        break;
    case VFIO_DEVICE_STATE_STOP_COPY:
    case VFIO_DEVICE_STATE_RESUMING:
        /* The device-data stream: empty when read (STOP_COPY), discarded when written. */
        ms->data_fd = st.mig_state == ms->device_state ? -1 : new_fd(FD_MIG_DATA, 1);
        break;
    default:
        die("ioctl(device fd %d, VFIO_DEVICE_FEATURE MIG_DEVICE_STATE -> %u): only STOP, RUNNING, "
            "STOP_COPY and RESUMING are presented", fd, ms->device_state);
    }
    trace("migration state %u -> %u (data fd %d)", st.mig_state, ms->device_state, ms->data_fd);
    st.mig_state = ms->device_state;
    return 0;
}

static int device_feature(int fd, struct vfio_device_feature *f)
{
    uint32_t feature = f->flags & VFIO_DEVICE_FEATURE_MASK;
    int probe = !!(f->flags & VFIO_DEVICE_FEATURE_PROBE);
    switch (feature) {
    case VFIO_DEVICE_FEATURE_MIGRATION:
        if (!probe) {
            ((struct vfio_device_feature_migration *)f->data)->flags = VFIO_MIGRATION_STOP_COPY;
        }
        return 0;
    case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
        return probe ? 0 : mig_device_state(fd, f->flags, (void *)f->data);
    case VFIO_DEVICE_FEATURE_MIG_DATA_SIZE:
        if (!probe) {
            ((struct vfio_device_feature_mig_data_size *)f->data)->stop_copy_length =
                MIG_DATA_SIZE_ESTIMATE;
        }
        return 0;
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
        return 0;
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
        /* The device never writes guest memory: QEMU's zeroed bitmap already says so. */
        return 0;
    default:
        die("ioctl(device fd %d, VFIO_DEVICE_FEATURE, flags 0x%x): feature %u not handled by the "
            "stand-in", fd, f->flags, feature);
    }
}

static int device_ioctl(int fd, unsigned long req, void *arg)
{
    switch (req) {
    case VFIO_DEVICE_GET_INFO: {
        struct vfio_device_info *info = arg;
        if (info->argsz < offsetof(struct vfio_device_info, cap_offset)) {
            return fail(EINVAL);
        }
        info->flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
        info->num_regions = VFIO_PCI_NUM_REGIONS;
        info->num_irqs = VFIO_PCI_NUM_IRQS;
        if (info->argsz >= sizeof(*info)) {
            info->cap_offset = 0;
        }
        return 0;
    }
    case VFIO_DEVICE_GET_REGION_INFO:
        return device_get_region_info(arg);
    case VFIO_DEVICE_GET_IRQ_INFO:
        return device_get_irq_info(arg);
    case VFIO_DEVICE_SET_IRQS:
        return device_set_irqs(arg);
    case VFIO_DEVICE_RESET:
        return 0;
    case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO:
        return device_hot_reset_info(arg);
    case VFIO_DEVICE_PCI_HOT_RESET:
        return 0;
    case VFIO_DEVICE_FEATURE:
        return device_feature(fd, arg);
    default:
        die("ioctl(device fd %d, request 0x%lx): not handled by the stand-in", fd, req);
    }
}

/* The name of a VFIO request on an fd of the given kind (numbers overlap across kinds). */
static const char *request_name(int kind, unsigned long req)
{
#define N(x) if (req == (unsigned long)(x)) return #x;
    if (kind == FD_CONTAINER) {
        N(VFIO_GET_API_VERSION) N(VFIO_CHECK_EXTENSION) N(VFIO_SET_IOMMU)
        N(VFIO_IOMMU_GET_INFO) N(VFIO_IOMMU_MAP_DMA) N(VFIO_IOMMU_UNMAP_DMA)
    } else if (kind == FD_GROUP) {
        N(VFIO_GROUP_GET_STATUS) N(VFIO_GROUP_SET_CONTAINER) N(VFIO_GROUP_UNSET_CONTAINER)
        N(VFIO_GROUP_GET_DEVICE_FD)
    } else {
        N(VFIO_DEVICE_GET_INFO) N(VFIO_DEVICE_GET_REGION_INFO) N(VFIO_DEVICE_GET_IRQ_INFO)
        N(VFIO_DEVICE_SET_IRQS) N(VFIO_DEVICE_RESET) N(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO)
        N(VFIO_DEVICE_PCI_HOT_RESET) N(VFIO_DEVICE_FEATURE)
    }
#undef N
    return "?";
}

static int vfio_ioctl(int fd, int kind, unsigned long req, void *arg)
{
    int ret, err;
    pthread_mutex_lock(&st.lock);
    switch (kind) {
    case FD_CONTAINER:
        ret = container_ioctl(fd, req, arg);
        break;
    case FD_GROUP:
        ret = group_ioctl(fd, req, arg);
        break;
    case FD_DEVICE:
        ret = device_ioctl(fd, req, arg);
        break;
    default:
        die("ioctl(%s fd %d, request 0x%lx): not handled by the stand-in", kind_name(kind), fd, req);
    }
    err = errno;
    trace("ioctl(%s fd %d, %s) = %d %s", kind_name(kind), fd, request_name(kind, req), ret,
          ret < 0 ? strerror(err) : "");
    pthread_mutex_unlock(&st.lock);
    errno = err;
    return ret;
}

/* ---- opening /dev/vfio ------------------------------------------------ */

/* -2 when path is not under /dev/vfio/, else the fd (or -1 with errno) for the stand-in's node. */
static int vfio_open(const char *call, const char *path, int flags)
{
    const char *rest;
    char *end;
    long n;
    int fd;
    if (!path || strncmp(path, "/dev/vfio/", 10) != 0) {
        return -2;
    }
    rest = path + 10;
    pthread_mutex_lock(&st.lock);
    load_config();
    if (strcmp(rest, "vfio") == 0) {
        fd = new_fd(FD_CONTAINER, flags & O_CLOEXEC);
    } else {
        n = strtol(rest, &end, 10);
        if (!*rest || *end || n != st.group) {
            die("%s(\"%s\"): the stand-in presents only /dev/vfio/vfio and /dev/vfio/%d", call, path,
                st.group);
        }
        if (st.refused) {
            pthread_mutex_unlock(&st.lock);
            errno = ENOENT;
            return -1;
        }
        fd = new_fd(FD_GROUP, flags & O_CLOEXEC);
    }
    trace("%s(\"%s\") = %d", call, path, fd);
    pthread_mutex_unlock(&st.lock);
    return fd;
}

static mode_t open_mode(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

#define OPEN_WRAPPER(name)                                             \
    int name(const char *path, int flags, ...)                         \
    {                                                                  \
        va_list ap;                                                    \
        mode_t mode;                                                   \
        int fd = vfio_open(#name, path, flags);                        \
        REAL(int, #name, (const char *, int, ...));                    \
        if (fd != -2) {                                                \
            return fd;                                                 \
        }                                                              \
        va_start(ap, flags);                                           \
        mode = open_mode(flags, ap);                                   \
        va_end(ap);                                                    \
        return real_fn(path, flags, mode);                             \
    }

#define OPEN2_WRAPPER(name)                                            \
    int name(const char *path, int flags)                              \
    {                                                                  \
        int fd = vfio_open(#name, path, flags);                        \
        REAL(int, #name, (const char *, int));                         \
        return fd != -2 ? fd : real_fn(path, flags);                   \
    }

#define OPENAT_WRAPPER(name)                                           \
    int name(int dirfd, const char *path, int flags, ...)              \
    {                                                                  \
        va_list ap;                                                    \
        mode_t mode;                                                   \
        int fd = vfio_open(#name, path, flags);                        \
        REAL(int, #name, (int, const char *, int, ...));               \
        if (fd != -2) {                                                \
            return fd;                                                 \
        }                                                              \
        va_start(ap, flags);                                           \
        mode = open_mode(flags, ap);                                   \
        va_end(ap);                                                    \
        return real_fn(dirfd, path, flags, mode);                      \
    }

OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)
OPEN2_WRAPPER(__open_2)
OPEN2_WRAPPER(__open64_2)
OPENAT_WRAPPER(openat)
OPENAT_WRAPPER(openat64)

/* ---- the other entry points ------------------------------------------- */

int close(int fd)
{
    REAL(int, "close", (int));
    if (kind_of(fd) != FD_NONE) {
        trace("close(%s fd %d)", kind_name(kind_of(fd)), fd);
        set_kind(fd, FD_NONE);
    }
    return real_fn(fd);
}

int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    void *arg;
    int kind = kind_of(fd);
    REAL(int, "ioctl", (int, unsigned long, ...));
    va_start(ap, req);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (kind == FD_NONE) {
        return real_fn(fd, req, arg);
    }
    return vfio_ioctl(fd, kind, req, arg);
}

#define PREAD_WRAPPER(name, write, bufty)                                               \
    ssize_t name(int fd, bufty buf, size_t count, off_t offset)                         \
    {                                                                                   \
        int kind = kind_of(fd);                                                         \
        REAL(ssize_t, #name, (int, bufty, size_t, off_t));                              \
        if (kind == FD_DEVICE) {                                                        \
            return region_rw(#name, fd, (void *)buf, count, offset, write);             \
        }                                                                               \
        if (kind != FD_NONE) {                                                          \
            die(#name "(%s fd %d, %zu bytes at 0x%llx): not handled by the stand-in",  \
                kind_name(kind), fd, count, (unsigned long long)offset);                \
        }                                                                               \
        return real_fn(fd, buf, count, offset);                                         \
    }

PREAD_WRAPPER(pread, 0, void *)
PREAD_WRAPPER(pread64, 0, void *)
PREAD_WRAPPER(pwrite, 1, const void *)
PREAD_WRAPPER(pwrite64, 1, const void *)

/* The _FORTIFY_SOURCE entry points QEMU's binary imports (__pread64_chk). */
#define PREAD_CHK_WRAPPER(name)                                                         \
    ssize_t name(int fd, void *buf, size_t count, off_t offset, size_t buflen)          \
    {                                                                                   \
        int kind = kind_of(fd);                                                         \
        REAL(ssize_t, #name, (int, void *, size_t, off_t, size_t));                     \
        if (kind == FD_DEVICE) {                                                        \
            if (count > buflen) {                                                       \
                die(#name "(device fd %d, %zu bytes into a %zu-byte buffer)", fd, count, \
                    buflen);                                                            \
            }                                                                           \
            return region_rw(#name, fd, buf, count, offset, 0);                         \
        }                                                                               \
        if (kind != FD_NONE) {                                                          \
            die(#name "(%s fd %d, %zu bytes at 0x%llx): not handled by the stand-in",  \
                kind_name(kind), fd, count, (unsigned long long)offset);                \
        }                                                                               \
        return real_fn(fd, buf, count, offset, buflen);                                 \
    }

PREAD_CHK_WRAPPER(__pread_chk)
PREAD_CHK_WRAPPER(__pread64_chk)

ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen)
{
    int kind = kind_of(fd);
    REAL(ssize_t, "__read_chk", (int, void *, size_t, size_t));
    if (kind != FD_NONE && kind != FD_MIG_DATA) {
        die("__read_chk(%s fd %d, %zu bytes): not handled by the stand-in", kind_name(kind), fd,
            count);
    }
    return real_fn(fd, buf, count, buflen);
}

/* read/write: the migration data fd is /dev/null (an empty stream); any other VFIO fd aborts. */
#define RW_WRAPPER(name, bufty)                                                         \
    ssize_t name(int fd, bufty buf, size_t count)                                       \
    {                                                                                   \
        int kind = kind_of(fd);                                                         \
        REAL(ssize_t, #name, (int, bufty, size_t));                                     \
        if (kind != FD_NONE && kind != FD_MIG_DATA) {                                   \
            die(#name "(%s fd %d, %zu bytes): not handled by the stand-in",             \
                kind_name(kind), fd, count);                                            \
        }                                                                               \
        return real_fn(fd, buf, count);                                                 \
    }

RW_WRAPPER(read, void *)
RW_WRAPPER(write, const void *)

#define MMAP_WRAPPER(name)                                                              \
    void *name(void *addr, size_t len, int prot, int flags, int fd, off_t offset)       \
    {                                                                                   \
        int kind = kind_of(fd);                                                         \
        REAL(void *, #name, (void *, size_t, int, int, int, off_t));                    \
        if (kind != FD_NONE) {                                                          \
            die(#name "(%s fd %d, %zu bytes at 0x%llx): no region is mmap-able",        \
                kind_name(kind), fd, len, (unsigned long long)offset);                  \
        }                                                                               \
        return real_fn(addr, len, prot, flags, fd, offset);                             \
    }

MMAP_WRAPPER(mmap)
MMAP_WRAPPER(mmap64)

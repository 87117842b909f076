// V4L2 seam: kernel UAPI structs, libv4l2 and libv4lconvert. Swift cannot
// import the _IOR/_IOWR ioctl request macros, so the ones the project uses
// are exported as constants; the variadic ioctl gets a typed wrapper.
#ifndef COUNTERKIT_CV4L2_SHIM_H
#define COUNTERKIT_CV4L2_SHIM_H
#include <sys/ioctl.h>
#include <linux/videodev2.h>
#include <libv4l2.h>
#include <libv4lconvert.h>
static const unsigned long ck_vidioc_querycap = VIDIOC_QUERYCAP;
static const unsigned long ck_vidioc_enum_fmt = VIDIOC_ENUM_FMT;
static const unsigned long ck_vidioc_g_fmt = VIDIOC_G_FMT;
static const unsigned long ck_vidioc_s_fmt = VIDIOC_S_FMT;
static const unsigned long ck_vidioc_try_fmt = VIDIOC_TRY_FMT;
static const unsigned long ck_vidioc_enum_framesizes = VIDIOC_ENUM_FRAMESIZES;
static const unsigned long ck_vidioc_enum_frameintervals = VIDIOC_ENUM_FRAMEINTERVALS;
static const unsigned long ck_vidioc_reqbufs = VIDIOC_REQBUFS;
static const unsigned long ck_vidioc_querybuf = VIDIOC_QUERYBUF;
static const unsigned long ck_vidioc_qbuf = VIDIOC_QBUF;
static const unsigned long ck_vidioc_dqbuf = VIDIOC_DQBUF;
static const unsigned long ck_vidioc_streamon = VIDIOC_STREAMON;
static const unsigned long ck_vidioc_streamoff = VIDIOC_STREAMOFF;
static const unsigned long ck_vidioc_query_ext_ctrl = VIDIOC_QUERY_EXT_CTRL;
static const unsigned long ck_vidioc_querymenu = VIDIOC_QUERYMENU;
static const unsigned long ck_vidioc_g_ext_ctrls = VIDIOC_G_EXT_CTRLS;
static const unsigned long ck_vidioc_s_ext_ctrls = VIDIOC_S_EXT_CTRLS;
static const unsigned long ck_vidioc_g_parm = VIDIOC_G_PARM;
static const unsigned long ck_vidioc_s_parm = VIDIOC_S_PARM;
static inline int ck_ioctl(int fd, unsigned long request, void *argument) { return ioctl(fd, request, argument); }

/* v4l2_ext_control and v4l2_querymenu are packed structs with unions; these
   helpers keep their layout on the C side. All return 0 or -1 with errno set. */
static inline int ck_get_control(int fd, unsigned int id, int is64, long long *value) {
    struct v4l2_ext_control control = { .id = id };
    struct v4l2_ext_controls controls = { .which = V4L2_CTRL_WHICH_CUR_VAL, .count = 1, .controls = &control };
    if (ioctl(fd, VIDIOC_G_EXT_CTRLS, &controls) != 0) return -1;
    *value = is64 ? control.value64 : control.value;
    return 0;
}
static inline int ck_set_control(int fd, unsigned int id, int is64, long long value) {
    struct v4l2_ext_control control = { .id = id };
    if (is64) control.value64 = value; else control.value = (int)value;
    struct v4l2_ext_controls controls = { .which = V4L2_CTRL_WHICH_CUR_VAL, .count = 1, .controls = &control };
    return ioctl(fd, VIDIOC_S_EXT_CTRLS, &controls);
}
/* Fills name (32 bytes) for menus, *value for integer menus. */
static inline int ck_query_menu(int fd, unsigned int id, unsigned int index, char *name, long long *value) {
    struct v4l2_querymenu item = { .id = id, .index = index };
    if (ioctl(fd, VIDIOC_QUERYMENU, &item) != 0) return -1;
    for (int i = 0; i < 32; i++) name[i] = (char)item.name[i];
    *value = item.value;
    return 0;
}
#endif

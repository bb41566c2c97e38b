/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: common process filters (pid, tid, uid, gid, comm) plus the container
 * filter of mntns_filter.h.
 *
 * Naming follows user space: "pid" is the thread group id (kernel tgid) and
 * "tid" is the thread id (kernel pid).
 *
 * Including this header adds five parameters to the gadget:
 *   targ_pid  -> --pid   (0 = no filter)
 *   targ_tid  -> --tid   (0 = no filter)
 *   targ_uid  -> --uid   (GADGET_INVALID_ID = no filter)
 *   targ_gid  -> --gid   (GADGET_INVALID_ID = no filter)
 *   targ_comm -> --comm  (empty = no filter; exact match on the 16-byte comm)
 */

#ifndef __GADGET_FILTER_H
#define __GADGET_FILTER_H

#include <bpf/bpf_helpers.h>

#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/mntns_filter.h>
/* networking gadgets may be built on <linux/types.h>, without task_struct */
#ifndef GADGET_TYPE_NETWORKING
#include <gadget/mntns.h>
#endif

const volatile gadget_pid targ_pid = 0;
GADGET_PARAM(targ_pid);

const volatile gadget_tid targ_tid = 0;
GADGET_PARAM(targ_tid);

const volatile gadget_uid targ_uid = GADGET_INVALID_ID;
GADGET_PARAM(targ_uid);

const volatile gadget_gid targ_gid = GADGET_INVALID_ID;
GADGET_PARAM(targ_gid);

const volatile gadget_comm targ_comm[TASK_COMM_LEN] = {};
GADGET_PARAM(targ_comm);

static __always_inline bool gadget_should_discard_pid(gadget_pid pid)
{
	return targ_pid != 0 && pid != targ_pid;
}

static __always_inline bool gadget_should_discard_tid(gadget_tid tid)
{
	return targ_tid != 0 && tid != targ_tid;
}

static __always_inline bool gadget_should_discard_uid(gadget_uid uid)
{
	return targ_uid != GADGET_INVALID_ID && uid != targ_uid;
}

static __always_inline bool gadget_should_discard_gid(gadget_gid gid)
{
	return targ_gid != GADGET_INVALID_ID && gid != targ_gid;
}

/* Compare up to the first NUL of targ_comm (both are at most 16 bytes). */
static __always_inline bool
gadget_should_discard_comm(const gadget_comm comm[TASK_COMM_LEN])
{
	if (targ_comm[0] == '\0')
		return false;

#pragma unroll
	for (int i = 0; i < TASK_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return true;
		if (comm[i] == '\0')
			break;
	}
	return false;
}

/* True if an event with these attributes should be dropped. */
static __always_inline bool
gadget_should_discard_data(gadget_mntns_id mntns_id, gadget_pid pid,
			   gadget_tid tid, const gadget_comm comm[TASK_COMM_LEN],
			   gadget_uid uid, gadget_gid gid)
{
	return gadget_should_discard_mntns_id(mntns_id) ||
	       gadget_should_discard_pid(pid) ||
	       gadget_should_discard_tid(tid) ||
	       gadget_should_discard_uid(uid) ||
	       gadget_should_discard_gid(gid) ||
	       gadget_should_discard_comm(comm);
}

#ifndef GADGET_TYPE_NETWORKING
/*
 * True if an event produced by the current task should be dropped. Each
 * attribute is only fetched when the corresponding filter is active, so the
 * common case (no filters) costs a couple of loads.
 */
static __always_inline bool gadget_should_discard_data_current(void)
{
	if (gadget_filter_by_mntns &&
	    gadget_should_discard_mntns_id(gadget_get_current_mntns_id()))
		return true;

	if (targ_pid != 0 || targ_tid != 0) {
		__u64 pid_tgid = bpf_get_current_pid_tgid();

		if (gadget_should_discard_pid(pid_tgid >> 32) ||
		    gadget_should_discard_tid((__u32)pid_tgid))
			return true;
	}

	if (targ_uid != GADGET_INVALID_ID || targ_gid != GADGET_INVALID_ID) {
		__u64 uid_gid = bpf_get_current_uid_gid();

		if (gadget_should_discard_uid((__u32)uid_gid) ||
		    gadget_should_discard_gid(uid_gid >> 32))
			return true;
	}

	if (targ_comm[0] != '\0') {
		char comm[TASK_COMM_LEN];

		bpf_get_current_comm(comm, sizeof(comm));
		if (gadget_should_discard_comm(comm))
			return true;
	}

	return false;
}
#endif /* !GADGET_TYPE_NETWORKING */

/*
 * The same checks for the process that owns a socket (an entry of the socket
 * enricher map, see sockets-map.h). A packet whose socket is unknown is kept
 * unless a process filter (pid, tid, uid, gid, comm) is set. Unlike upstream,
 * the container filter alone does not drop it: ig attaches networking
 * programs only in the selected containers' network namespaces, so the
 * selection already applies, and a socket too short-lived for the enricher
 * would otherwise lose its packets.
 */
static __always_inline bool
gadget_should_discard_data_by_skb(const struct gadget_socket_value *v)
{
	if (!v)
		return targ_pid != 0 ||
		       targ_tid != 0 || targ_uid != GADGET_INVALID_ID ||
		       targ_gid != GADGET_INVALID_ID || targ_comm[0] != '\0';

	return gadget_should_discard_data(v->mntns, v->pid_tgid >> 32,
					  (__u32)v->pid_tgid, v->task,
					  (__u32)v->uid_gid, v->uid_gid >> 32);
}

#endif /* __GADGET_FILTER_H */

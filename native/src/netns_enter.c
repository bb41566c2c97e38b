/* The calling thread joins another network namespace: what a packet socket or a network iterator must be created
 * in (sockets and iterators take the namespace of the thread that makes them). Callers run this on a short-lived
 * thread of their own, so node's threads never change namespace. */
#include "addon.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

int ig_netns_enter(const char *path, const char **step) {
  int nsfd = open(path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) {
    *step = "open netns";
    return errno;
  }
  int err = setns(nsfd, CLONE_NEWNET) < 0 ? errno : 0;
  if (err) *step = "setns";
  close(nsfd);
  return err;
}

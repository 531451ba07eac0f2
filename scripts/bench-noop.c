/*
 * bench-noop: a CNI plugin that does nothing, statically linked, so that an
 * ADD+DEL through multus with it as the only delegate shows the meta
 * plugin's own cost. ADD prints a result naming CNI_IFNAME in CNI_NETNS with
 * one 10.x address; DEL and CHECK print nothing; VERSION the versions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  char buf[65536];
  while (read(0, buf, sizeof buf) > 0) {
  }
  const char *cmd = getenv("CNI_COMMAND");
  const char *ifname = getenv("CNI_IFNAME");
  const char *netns = getenv("CNI_NETNS");
  if (!cmd) return 1;
  if (!strcmp(cmd, "VERSION")) {
    printf("{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.3.1\",\"0.4.0\",\"1.0.0\"]}\n");
  } else if (!strcmp(cmd, "ADD")) {
    printf("{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"%s\",\"sandbox\":\"%s\"}],"
           "\"ips\":[{\"address\":\"10.229.99.2/24\",\"interface\":0}]}\n",
           ifname ? ifname : "", netns ? netns : "");
  }
  return 0;
}

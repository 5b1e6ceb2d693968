/** Supplementary groups through node:process (Node and Bun have initgroups and setgroups). */
type WithGroups = { initgroups(user: string | number, gid: number): void; setgroups(groups: number[]): void };

export function setGroupsProcess(user: string | number | null, gid: number): void {
  const p = process as unknown as WithGroups;
  if (user !== null) p.initgroups(user, gid);
  else p.setgroups([gid]);
}

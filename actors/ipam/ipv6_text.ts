/**
 * The RFC 5952 text of an IPv6 address from its eight 16-bit groups, shared by every place that
 * prints IPv6 addresses (address management, netlink, the API server's CEL `ip()`).
 *
 * @module
 */

/**
 * Joins eight 16-bit groups as lowercase hex without leading zeros, the longest run of two or
 * more zero groups (the first one on a tie) written as `::` (RFC 5952 sections 4.1 to 4.3).
 * IPv4-mapped forms are the caller's concern.
 */
export function formatIpv6Groups(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: readonly number[]) => xs.map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

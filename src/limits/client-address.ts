import type { Request } from 'express';
import ipaddr from 'ipaddr.js';

/**
 * The key a client address is counted under. An IPv6 client usually holds a whole /64, so it is
 * counted per /64 prefix (else it would have 2^64 fresh keys); an IPv4-mapped IPv6 address is
 * its IPv4 address. `req.ip` honours X-Forwarded-For only from TRUSTED_PROXIES.
 */
export function clientAddress(req: Pick<Request, 'ip'>): string {
  const ip = req.ip ?? '';
  if (!ipaddr.isValid(ip)) return ip;
  const address = ipaddr.process(ip);
  if (!(address instanceof ipaddr.IPv6)) return address.toString();
  return `${address.parts.slice(0, 4).map((part) => part.toString(16)).join(':')}::/64`;
}

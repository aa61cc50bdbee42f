import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clientAddressOf } from '../../src/auth/client-address.js';
import { loadConfig } from '../../src/config.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('the shipped compose stack behind nginx', () => {
  const compose = read('docker-compose.yml');
  const nginx = read('deploy/nginx.conf');

  it("trusts exactly nginx's fixed address, so that limits key on the clients behind it", () => {
    const trustProxy = /^\s+TRUST_PROXY:\s*(\S+)\s*$/m.exec(compose)?.[1];
    const nginxAddress = /^\s+ipv4_address:\s*(\S+)\s*$/m.exec(compose)?.[1];
    expect(trustProxy).toBeDefined();
    expect(nginxAddress).toBeDefined();
    const { TRUST_PROXY } = loadConfig({ TRUST_PROXY: trustProxy });
    expect(clientAddressOf(TRUST_PROXY)(nginxAddress, '203.0.113.5')).toBe('203.0.113.5');
  });

  it('has nginx append the client to X-Forwarded-For and keep the port in Host', () => {
    expect(nginx).toMatch(/^\s*proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;/m);
    expect(nginx).toMatch(/^\s*proxy_set_header Host \$http_host;/m);
  });
});

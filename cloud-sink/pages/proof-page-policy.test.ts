// The proof page's policy lets it reach the one Aptos node it was opened for, and nothing a link
// can put in `?node=` adds any other source or directive.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proofPagePolicy } from './pages-routes.ts';

const connectSrc = (query: string) => /connect-src ([^;]*);/.exec(proofPagePolicy(new URL(`http://127.0.0.1:8080/proof${query}`)))![1];
const node = (url: string) => `?node=${encodeURIComponent(url)}`;

describe('the proof page\'s policy', () => {
  it('names exactly the origin of the node it was opened for', () => {
    assert.equal(connectSrc(''), "'self'");
    assert.equal(connectSrc(node('https://fullnode.mainnet.aptoslabs.com/v1')), "'self' https://fullnode.mainnet.aptoslabs.com");
    assert.equal(connectSrc(node('http://127.0.0.1:41234/v1')), "'self' http://127.0.0.1:41234");
    assert.equal(connectSrc(node('http://[::1]:8080/v1')), "'self' http://[::1]:8080");
    assert.equal(connectSrc(node('HTTPS://Node.Example:443/v1/')), "'self' https://node.example");
  });

  it('adds nothing for a node that is no http(s) URL, carries credentials, or would add a source or directive', () => {
    for (const bad of ['ws://node.example/v1', 'javascript:alert(1)', 'node.example', 'https://user:pw@node.example/v1', "https://a;script-src 'unsafe-inline'/v1",
      'https://a,b/v1', "https://a'b/v1", 'https://a b/v1', `https://${'a'.repeat(3000)}.example/v1`, 'data:,x']) {
      assert.equal(connectSrc(node(bad)), "'self'", bad);
    }
    const policy = proofPagePolicy(new URL(`http://127.0.0.1/proof${node("https://a;script-src 'unsafe-inline'/v1")}`));
    assert.doesNotMatch(policy, /unsafe/);
  });
});

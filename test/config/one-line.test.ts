import { describe, expect, it } from 'vitest';
import { parseOneLine, tokenizeOneLine } from '../../src/config/one-line.js';
import { ConfigError } from '../../src/errors.js';

describe('one-line discovery form', () => {
  it('parses and coerces by the method schema', () => {
    expect(parseOneLine('method=aws-ec2-tags tagKey=service ports=7626,7627 filters="tag:env=prod;instance-type=m5.large"')).toEqual({
      method: 'aws-ec2-tags',
      tagKey: 'service',
      ports: [7626, 7627],
      filters: 'tag:env=prod;instance-type=m5.large',
    });
    expect(parseOneLine('method=aws-ecs tags=deployment-side:blue,env:prod cluster=prod')).toEqual({
      method: 'aws-ecs',
      cluster: 'prod',
      tags: [
        { key: 'deployment-side', value: 'blue' },
        { key: 'env', value: 'prod' },
      ],
    });
    expect(parseOneLine('method=consul tags=primary,v2 passingOnly=false port=8500')).toEqual({
      method: 'consul',
      tags: ['primary', 'v2'],
      passingOnly: false,
      port: 8500,
    });
    expect(parseOneLine('method=dns nameservers=127.0.0.1:5353')).toEqual({ method: 'dns', nameservers: ['127.0.0.1:5353'] });
  });

  it('accepts Pekko aliases and quoted values with spaces, quotes and "="', () => {
    expect(parseOneLine('method=aws-api-ec2-tag-based tagValue="a b \\"c\\" = d"')).toEqual({ method: 'aws-api-ec2-tag-based', tagValue: 'a b "c" = d' });
    expect(tokenizeOneLine('  a=1   b="x y"  ')).toEqual(
      new Map([
        ['a', '1'],
        ['b', 'x y'],
      ]),
    );
  });

  it('uses the base method when the line has none', () => {
    expect(parseOneLine('ports=1', { baseMethod: 'aws-ec2-tags' })).toEqual({ ports: [1] });
  });

  it.each([
    ['method=static contactPoints', 'discovery.contactPoints: missing "=" after key'],
    ['method=static contactPoints=', 'discovery.contactPoints: missing value after "="'],
    ['method=static contactPoints="10.0.0.1', 'discovery.contactPoints: unbalanced quotes: no closing "'],
    ['method=static contactPoints=10.0.0.1"', 'discovery.contactPoints: unbalanced quotes in value'],
    ['method=static contactPoints="a"b', 'discovery.contactPoints: unexpected text after closing quote'],
    ['method=static method=file', 'discovery.method: duplicate key'],
    ['method=aws-ec2-tags tagkey=x', 'discovery.tagkey: unknown key for method "aws-ec2-tags" — did you mean "tagKey"?'],
    ['method=aws-ec2-tags colour=x', 'discovery.colour: unknown key for method "aws-ec2-tags"'],
    ['method=nope', 'discovery.method: unknown method "nope"'],
    ['tagKey=x', 'discovery.method: required'],
    ['=x', 'discovery: missing key before "=" at position 1'],
    ['method=aws-ecs tags=env', 'discovery.tags: expected key:value pairs, got "env"'],
    ['method=aggregate methods=x', 'discovery.methods: cannot be given in the one-line form'],
    ['method=static contactPoints=a=b', 'discovery.contactPoints: value holds "=" unquoted'],
  ])('%s → %s', (line, message) => {
    let error: unknown;
    try {
      parseOneLine(line);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(message);
    expect((error as ConfigError).hint).toBeTruthy();
  });

  it('names the environment variable when parsing it', () => {
    expect(() => parseOneLine('method=static x', { where: 'CLUSTERSEED_DISCOVERY' })).toThrow('CLUSTERSEED_DISCOVERY.x: missing "=" after key');
  });
});

/** Functions route templates (`manufacturers/{manufacturerId}/imports/{jobId?}`, `{id:int}`) matched against paths. */
export interface RouteMatch {
  params: Record<string, string>;
}

export function compileRoute(template: string): (path: string) => RouteMatch | undefined {
  const names: string[] = [];
  const pattern = template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .map((segment) => {
      const param = /^\{\*?([A-Za-z_]\w*)(?::[^}?]+)?(\?)?\}$/.exec(segment);
      if (!param) return '/' + segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(param[1]);
      return param[2] ? '(?:/([^/]+))?' : '/([^/]+)';
    })
    .join('');
  const regex = new RegExp(`^${pattern}/?$`, 'i');
  return (path) => {
    const m = regex.exec(path);
    if (!m) return undefined;
    const params: Record<string, string> = {};
    names.forEach((n, i) => {
      if (m[i + 1] !== undefined) params[n] = decodeURIComponent(m[i + 1]);
    });
    return { params };
  };
}

// Reads TopoJSON (the embedded Natural Earth country outlines) into GeoJSON geometries:
// arcs are delta-encoded integers scaled by the topology's transform, and a ring is a list of
// arc indexes (~i: arc i reversed) whose shared end points appear once.

export function toGeoJSON(topology, objectName) {
  const { scale, translate } = topology.transform;
  const arcs = topology.arcs.map((arc) => {
    let x = 0;
    let y = 0;
    return arc.map(([dx, dy]) => {
      x += dx;
      y += dy;
      return [x * scale[0] + translate[0], y * scale[1] + translate[1]];
    });
  });
  const ring = (indexes) => {
    const points = [];
    for (const i of indexes) {
      const arc = i >= 0 ? arcs[i] : arcs[~i].slice().reverse();
      points.push(...(points.length > 0 ? arc.slice(1) : arc));
    }
    return points;
  };
  const geometry = (g) => {
    if (g.type === 'Polygon') return { type: 'Polygon', coordinates: g.arcs.map(ring) };
    if (g.type === 'MultiPolygon') return { type: 'MultiPolygon', coordinates: g.arcs.map((p) => p.map(ring)) };
    return null;
  };
  const features = [];
  for (const g of topology.objects[objectName].geometries) {
    const geo = geometry(g);
    if (geo) features.push({ type: 'Feature', properties: {}, geometry: geo });
  }
  return { type: 'FeatureCollection', features };
}

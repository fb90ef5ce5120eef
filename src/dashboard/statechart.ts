/**
 * The node statechart drawn from its own definition: states and event transitions from `toDirectedGraph`
 * (xstate/graph), plus the eventless (`always`) transitions that mirror the core's role, which the directed graph
 * leaves out; laid out by elkjs (layered, nested states inside their parents). The page renders the result as SVG
 * and highlights the active states by path (`node.running.leader`).
 */
import elkModule from 'elkjs/lib/elk.bundled.js';
import type { AnyStateMachine } from 'xstate';
import { toDirectedGraph, type DirectedGraphNode } from 'xstate/graph';

export interface StatechartBox {
  /** The state's path without the machine id (`running.leader`; `` for the root). */
  readonly path: string;
  readonly label: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly depth: number;
  readonly final: boolean;
  readonly initial: boolean;
  /** Events that enter this state from any of its ancestors' states (`xraft.stop` for `stopped`). */
  readonly fromAnywhere: readonly string[];
}

export interface StatechartEdge {
  readonly label: string;
  readonly source: string;
  readonly target: string;
  /** Polyline points in absolute coordinates. */
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

export interface StatechartLayout {
  readonly machine: string;
  readonly width: number;
  readonly height: number;
  readonly boxes: readonly StatechartBox[];
  readonly edges: readonly StatechartEdge[];
}

interface ElkNode {
  id: string;
  width?: number;
  height?: number;
  x?: number;
  y?: number;
  children?: ElkNode[];
  edges?: ElkEdge[];
  labels?: { text: string; width: number; height: number }[];
  layoutOptions?: Record<string, string>;
}
interface ElkEdge {
  id: string;
  sources: string[];
  targets: string[];
  labels?: { text: string; width: number; height: number; x?: number; y?: number }[];
  sections?: { startPoint: { x: number; y: number }; endPoint: { x: number; y: number }; bendPoints?: { x: number; y: number }[] }[];
  container?: string;
}

const CHAR_WIDTH = 7;
// elkjs is CommonJS: its constructor is the module itself, or its `default` as typed.
const ELK = ((elkModule as unknown as { default?: unknown }).default ?? elkModule) as new () => { layout(graph: unknown): Promise<unknown> };

/** Lay out `machine`'s states and transitions (between distinct states; self-transitions are the event handlers). */
export async function layoutStatechart(machine: AnyStateMachine): Promise<StatechartLayout> {
  const graph = toDirectedGraph(machine);
  const rootId = graph.id;
  const edges = new Map<string, { source: string; target: string; labels: Set<string> }>();
  const addEdge = (source: string, target: string, label: string): void => {
    // Self-transitions are event handlers; transitions between a state and its own descendant (`xraft.stop` on the
    // root, to `stopped`) are noted on the target instead: `from anywhere`.
    if (source === target) return;
    if (target.startsWith(`${source}.`) || source.startsWith(`${target}.`)) {
      const noted = fromAnywhere.get(target) ?? new Set<string>();
      noted.add(label);
      fromAnywhere.set(target, noted);
      return;
    }
    const key = `${source}->${target}`;
    const known = edges.get(key) ?? { source, target, labels: new Set<string>() };
    known.labels.add(label);
    edges.set(key, known);
  };
  const fromAnywhere = new Map<string, Set<string>>();
  const stateNodes = new Map<string, { initial: boolean; final: boolean }>();
  const visit = (node: DirectedGraphNode): void => {
    const definition = node.stateNode;
    const parent = definition.parent;
    stateNodes.set(node.id, { initial: parent !== undefined && parent.initial?.target.includes(definition) === true, final: definition.type === 'final' });
    for (const edge of node.edges) addEdge(edge.source.id, edge.target.id, edge.label.text);
    for (const transition of definition.always ?? []) for (const target of transition.target ?? []) addEdge(node.id, target.id, 'always');
    for (const child of node.children) visit(child);
  };
  visit(graph);

  const toElk = (node: DirectedGraphNode): ElkNode => {
    const label = node.id === rootId ? rootId : node.id.split('.').pop()!;
    const children = node.children.map(toElk);
    return {
      id: node.id,
      labels: [{ text: label, width: label.length * CHAR_WIDTH + 8, height: 14 }],
      ...(children.length === 0 ? { width: Math.max(70, label.length * CHAR_WIDTH + 20), height: 30 } : { children }),
      layoutOptions: { 'elk.padding': '[top=24,left=10,bottom=10,right=10]', 'elk.nodeLabels.placement': 'INSIDE V_TOP H_LEFT' },
    };
  };
  const elkRoot = toElk(graph);
  elkRoot.layoutOptions = {
    ...elkRoot.layoutOptions,
    'elk.algorithm': 'layered',
    'elk.direction': 'RIGHT',
    'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
    'elk.layered.spacing.nodeNodeBetweenLayers': '40',
    'elk.spacing.nodeNode': '18',
    'elk.edgeLabels.inline': 'false',
  };
  elkRoot.edges = [...edges.values()].map(({ source, target, labels }, index) => {
    const text = [...labels].join(' / ');
    return { id: `e${index}`, sources: [source], targets: [target], labels: [{ text, width: Math.min(text.length, 28) * 6, height: 12 }] };
  });
  const laid = (await new ELK().layout(elkRoot)) as unknown as ElkNode;

  const boxes: StatechartBox[] = [];
  const offsets = new Map<string, { x: number; y: number }>();
  const place = (node: ElkNode, offsetX: number, offsetY: number, depth: number): void => {
    const x = offsetX + (node.x ?? 0);
    const y = offsetY + (node.y ?? 0);
    offsets.set(node.id, { x, y });
    const info = stateNodes.get(node.id);
    boxes.push({
      path: node.id === rootId ? '' : node.id.slice(rootId.length + 1),
      label: node.labels?.[0]?.text ?? node.id,
      x, y, width: node.width ?? 0, height: node.height ?? 0, depth,
      final: info?.final ?? false, initial: info?.initial ?? false, fromAnywhere: [...(fromAnywhere.get(node.id) ?? [])],
    }); // prettier-ignore
    for (const child of node.children ?? []) place(child, x, y, depth + 1);
  };
  place(laid, 0, 0, 0);

  const strip = (id: string): string => (id === rootId ? '' : id.slice(rootId.length + 1));
  const laidEdges: StatechartEdge[] = (laid.edges ?? []).flatMap((edge) => {
    // With INCLUDE_CHILDREN, coordinates are relative to the edge's container.
    const offset = offsets.get(edge.container ?? rootId) ?? { x: 0, y: 0 };
    return (edge.sections ?? []).map((section) => ({
      label: edge.labels?.[0]?.text ?? '',
      source: strip(edge.sources[0]!),
      target: strip(edge.targets[0]!),
      points: [section.startPoint, ...(section.bendPoints ?? []), section.endPoint].map((point) => ({ x: point.x + offset.x, y: point.y + offset.y })),
    }));
  });
  return { machine: rootId, width: laid.width ?? 0, height: laid.height ?? 0, boxes, edges: laidEdges };
}

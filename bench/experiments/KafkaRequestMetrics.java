import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/** Prints, once a second, one JSON line of the broker's request metrics: for each request type and
 * metric, [count, sum] — the request count, and for each time histogram its count and the sum of its
 * values in ms (its cumulative mean times its count), so that a window's mean is a difference of two. */
public class KafkaRequestMetrics {
  public static void main(String[] args) throws Exception {
    JMXServiceURL url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://" + args[0] + "/jmxrmi");
    try (JMXConnector connector = JMXConnectorFactory.connect(url)) {
      MBeanServerConnection server = connector.getMBeanServerConnection();
      ObjectName pattern = new ObjectName("kafka.network:type=RequestMetrics,*");
      while (true) {
        Map<String, double[]> values = new TreeMap<>();
        Set<ObjectName> names = server.queryNames(pattern, null);
        for (ObjectName name : names) {
          String metric = name.getKeyProperty("name");
          String request = name.getKeyProperty("request");
          if (metric == null || request == null) continue;
          String key = request + "|" + metric;
          double count = ((Number) server.getAttribute(name, "Count")).doubleValue();
          double mean = metric.endsWith("PerSec") ? 0 : ((Number) server.getAttribute(name, "Mean")).doubleValue();
          double[] sum = values.computeIfAbsent(key, k -> new double[2]);
          // RequestsPerSec comes once per API version: counts add up; histograms come once
          sum[0] += count;
          sum[1] += mean * count;
        }
        StringBuilder out = new StringBuilder("{\"t\":").append(System.currentTimeMillis()).append(",\"m\":{");
        boolean first = true;
        for (Map.Entry<String, double[]> e : values.entrySet()) {
          if (!first) out.append(',');
          first = false;
          out.append('"').append(e.getKey()).append("\":[").append((long) e.getValue()[0]).append(',').append(e.getValue()[1]).append(']');
        }
        System.out.println(out.append("}}"));
        System.out.flush();
        Thread.sleep(1000);
      }
    }
  }
}

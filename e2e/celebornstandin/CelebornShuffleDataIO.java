/*
 * STAND-IN, NOT APACHE CELEBORN. sparkdra's e2e tests compile this class with javac against the
 * PySpark jars (e2e/celebornstandin, BuildJar). It only carries the class name of Celeborn's
 * Spark 3.5+ ShuffleDataIO so Spark's dynamic allocation treats the application exactly as it
 * treats one configured with Celeborn: Spark decides from
 * spark.shuffle.sort.io.plugin.class and ShuffleDriverComponents.supportsReliableStorage(), not
 * from where the bytes go. Celeborn's servers cannot run on the test machine (no registry
 * serves them), so this stand-in writes shuffle data to local disk through Spark's own
 * LocalDiskShuffleDataIO and merely reports reliable storage. Shuffle data of a removed
 * executor is therefore lost for real; the tests never read a shuffle after its executor went.
 */
package org.apache.spark.shuffle.celeborn;

import java.util.Map;

import org.apache.spark.SparkConf;
import org.apache.spark.shuffle.api.ShuffleDataIO;
import org.apache.spark.shuffle.api.ShuffleDriverComponents;
import org.apache.spark.shuffle.api.ShuffleExecutorComponents;
import org.apache.spark.shuffle.sort.io.LocalDiskShuffleDataIO;

public class CelebornShuffleDataIO implements ShuffleDataIO {
  private final LocalDiskShuffleDataIO local;

  public CelebornShuffleDataIO(SparkConf conf) {
    this.local = new LocalDiskShuffleDataIO(conf);
  }

  @Override
  public ShuffleExecutorComponents executor() {
    return local.executor();
  }

  @Override
  public ShuffleDriverComponents driver() {
    final ShuffleDriverComponents disk = local.driver();
    return new ShuffleDriverComponents() {
      @Override
      public Map<String, String> initializeApplication() {
        return disk.initializeApplication();
      }

      @Override
      public void cleanupApplication() {
        disk.cleanupApplication();
      }

      @Override
      public void registerShuffle(int shuffleId) {
        disk.registerShuffle(shuffleId);
      }

      @Override
      public void removeShuffle(int shuffleId, boolean blocking) {
        disk.removeShuffle(shuffleId, blocking);
      }

      // What Celeborn's driver components answer (unless forced to fall back to Spark's
      // shuffle): the shuffle survives its executors. It makes dynamic allocation valid with
      // shuffle tracking off.
      @Override
      public boolean supportsReliableStorage() {
        return true;
      }
    };
  }
}

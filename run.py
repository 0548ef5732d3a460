"""Train recurrent cells on long-memory tasks and log every run to MLflow.

    python run.py                                   # one run: the default LSTM on the memory task
    python run.py cell=rnn seq_len=100              # override anything in conf/
    python run.py -m cell=rnn,lstm,gru seed=0,1,2   # a sweep (Hydra multirun)
"""
from suite.cli import main

if __name__ == "__main__":
    main()
